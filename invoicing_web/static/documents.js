/* Liasse — deposits by drag-and-drop or file choice, sent with a progress bar.
   Without JavaScript the form posts normally; with it, the same form is sent by XHR. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var zone = form.querySelector("[data-dropzone]");
  var input = form.querySelector("input[type=file]");
  var progress = form.querySelector("[data-progress]");
  var status = form.querySelector("[data-status]");
  var button = form.querySelector("button[type=submit]");
  var token = form.querySelector("input[name=csrf_token]").value;
  var busy = false;

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function send(files) {
    if (busy) { return; }
    if (!files || !files.length) { say("Choisissez au moins un fichier.", true); return; }
    var data = new FormData();
    for (var i = 0; i < files.length; i++) { data.append("files", files[i], files[i].name); }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        progress.max = event.total;
        progress.value = event.loaded;
        say("Envoi en cours : " + Math.round(100 * event.loaded / event.total) + " %");
      }
    });
    xhr.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status >= 200 && xhr.status < 300 && body.redirect) {
        say(body.message || "Déposé.");
        window.location.assign(body.redirect);
        return;
      }
      done();
      var reason = body.error || (xhr.status === 413 ? "Envoi trop volumineux : rien n'a été déposé."
        : "Le dépôt a échoué (erreur " + xhr.status + ") : rien n'a été déposé.");
      say(reason, true);
    });
    xhr.addEventListener("error", function () {
      done();
      say("La connexion a été interrompue : rien n'a été déposé.", true);
    });
    busy = true;
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    say("Envoi en cours…");
    xhr.send(data);
  }

  function done() {
    busy = false;
    button.disabled = false;
    progress.hidden = true;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.files);
  });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
  });
  ["dragleave", "dragend"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  function holdsFolder(transfer) {
    var items = (transfer && transfer.items) || [];
    for (var i = 0; i < items.length; i++) {
      var entry = items[i].webkitGetAsEntry && items[i].webkitGetAsEntry();
      if (entry && entry.isDirectory) { return true; }
    }
    return false;
  }

  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("over");
    if (holdsFolder(event.dataTransfer)) {
      say("Un dossier ne se dépose pas ici : créez-le avec « Nouveau dossier », ou copiez-le " +
          "avec le lecteur réseau (Monter le lecteur).", true);
      return;
    }
    send(event.dataTransfer && event.dataTransfer.files);
  });
  // A file dropped beside the zone must not replace the page.
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });
}());
