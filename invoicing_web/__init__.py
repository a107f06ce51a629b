"""The browser app (Flask, server-rendered, French UI).

This first version serves the home page with the cabinet's identity; sign-in, dashboard,
documents and administration come with the web app issue.
"""
