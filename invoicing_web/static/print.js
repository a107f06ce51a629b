// The print view's button: the browser's print dialog (Ctrl+P does the same without script).
document.getElementById("print").addEventListener("click", () => window.print());
