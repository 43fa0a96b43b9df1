/* The vector store console: metadata, attribute and filter rows, "select all", uploads with a progress bar,
   and a file batch's page that follows the batch until OpenAI is done.
   No framework; everything here only enhances pages that work (uploads aside) without it. */
"use strict";
(function () {
  // --- rows of a formset (metadata, attributes, filters): "Add another …" clones its empty form ------
  function setUpAddRow(button) {
    const rows = document.getElementById(button.dataset.rows);
    const template = document.getElementById(button.dataset.template);
    const prefix = button.dataset.prefix;
    const total = document.getElementById(button.dataset.total || "id_" + prefix + "-TOTAL_FORMS");
    const max = document.getElementById(button.dataset.max || "id_" + prefix + "-MAX_NUM_FORMS");
    if (!rows || !template || !total) return;
    const full = () => max && Number(total.value) >= Number(max.value);
    button.hidden = false;
    button.disabled = full();
    button.addEventListener("click", function () {
      if (full()) return;
      const index = Number(total.value);
      const html = template.innerHTML.replace(/__prefix__/g, String(index)).replace(/__num__/g, String(index + 1));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      button.disabled = full();
      const added = rows.lastElementChild && rows.lastElementChild.querySelector("input");
      if (added) added.focus();
    });
  }

  // --- files (or the stores to import): "select all" ----------------------------------------------
  function setUpSelectAll(all) {
    const boxes = Array.from(document.querySelectorAll("input." + (all.dataset.boxes || "vs-file-checkbox")));
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        all.checked = boxes.every(function (b) { return b.checked; });
      });
    });
  }

  // --- messages: errors shown like admin's own messages ------------------------------------------
  function showMessage(level, text, details) {
    let list = document.querySelector("ul.messagelist");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messagelist";
      const content = document.getElementById("content");
      content.parentNode.insertBefore(list, content);
    }
    const item = document.createElement("li");
    item.className = level;
    item.textContent = text;
    if (details && details.length) {
      const sub = document.createElement("ul");
      details.forEach(function (line) {
        const li = document.createElement("li");
        li.textContent = line;
        sub.appendChild(li);
      });
      item.appendChild(sub);
    }
    list.appendChild(item);
  }

  // --- uploads ------------------------------------------------------------------------------------
  function chunkingStrategy(form) {
    const chosen = form.querySelector("input[name='chunking']:checked");
    if (!chosen || chosen.value !== "static") return null;
    const number = function (name) {
      const raw = form.querySelector("input[name='" + name + "']").value.trim();
      return /^-?\d+$/.test(raw) ? Number(raw) : raw; // the server says why anything else is wrong
    };
    return {type: "static", static: {
      max_chunk_size_tokens: number("max_chunk_size_tokens"),
      chunk_overlap_tokens: number("chunk_overlap_tokens"),
    }};
  }

  function formatBytes(bytes) {
    const units = ["bytes", "KB", "MB", "GB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit ? value.toFixed(1) : String(value)) + " " + units[unit];
  }

  function setUpUpload(form) {
    const input = form.querySelector("input[type='file']");
    const button = form.querySelector("input[type='submit']");
    const progress = document.getElementById("vs-upload-progress");
    const bar = progress.querySelector(".vs-progress-bar");
    const status = document.getElementById("vs-upload-status");
    const token = form.querySelector("input[name='csrfmiddlewaretoken']").value;

    function setProgress(percent, text) {
      progress.hidden = false;
      progress.setAttribute("aria-valuenow", String(percent));
      progress.setAttribute("aria-valuetext", text || percent + "%");
      bar.style.width = percent + "%";
    }

    function finish() {
      button.disabled = false;
      input.disabled = false;
      form.removeAttribute("aria-busy");
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const files = Array.from(input.files || []);
      if (!files.length) {
        status.textContent = "Choose one or more files first.";
        input.focus();
        return;
      }
      const body = new FormData();
      files.forEach(function (file) { body.append("files", file, file.name); });
      const strategy = chunkingStrategy(form);
      if (strategy) body.append("chunking_strategy", JSON.stringify(strategy));

      const total = files.reduce(function (sum, file) { return sum + file.size; }, 0);
      const request = new XMLHttpRequest();
      request.open("POST", form.dataset.uploadUrl);
      request.setRequestHeader("X-CSRFToken", token);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        const percent = Math.min(100, Math.floor((100 * e.loaded) / e.total));
        setProgress(percent, percent + "% (" + formatBytes(e.loaded) + " of " + formatBytes(e.total) + ")");
        status.textContent = "Uploading " + files.length + (files.length === 1 ? " file" : " files") +
          "… " + percent + "%";
      });
      request.upload.addEventListener("load", function () {
        setProgress(100, "100%: sent, processing at OpenAI");
        status.textContent = "Processing at OpenAI… (the files are sent; OpenAI is indexing them)";
      });
      request.addEventListener("load", function () {
        let answer = null;
        try { answer = JSON.parse(request.responseText); } catch (e) { answer = null; }
        if (request.status >= 200 && request.status < 300) {
          setProgress(100, "Done");
          status.textContent = "Done: " + files.length + (files.length === 1 ? " file" : " files") +
            " added. Updating the page…";
          window.location.assign(form.dataset.doneUrl);
          return;
        }
        finish();
        const detail = (answer && answer.detail) || ("The upload failed (HTTP " + request.status + ").");
        const report = (answer && Array.isArray(answer.files)) ? answer.files.map(function (file) {
          const error = file.error && (file.error.detail || file.error);
          return file.filename + ": " + file.status + (error ? " — " + error : "") +
            (file.file_deleted ? " (removed from OpenAI)" : "");
        }) : [];
        status.textContent = "The upload failed: " + detail;
        showMessage("error", detail, report);
      });
      request.addEventListener("error", function () {
        finish();
        status.textContent = "The upload failed: the connection to the server was lost.";
        showMessage("error", "The upload failed: the connection to the server was lost.");
      });

      button.disabled = true;
      input.disabled = true;
      form.setAttribute("aria-busy", "true");
      setProgress(0, "0% of " + formatBytes(total));
      status.textContent = "Uploading " + files.length + (files.length === 1 ? " file" : " files") + "…";
      request.send(body);
    });
  }

  // --- a file batch in progress: poll its state, then show the page as it ends ----------------------
  function setUpBatch(section) {
    const status = document.getElementById("vs-batch-status");
    const interval = Number(section.dataset.pollMs) || 2000;

    function say(text) {
      if (status.textContent !== text) status.textContent = text; // announced by the live region
    }

    // The page as it is now, from the server: its updatable parts (data-vs-swap) replace these.
    function showFinalPage() {
      return fetch(window.location.href, {credentials: "same-origin", cache: "no-store"})
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status); // a refusal is no page to swap in
          return response.text();
        })
        .then(function (html) {
          const fresh = new DOMParser().parseFromString(html, "text/html");
          let focusLost = false;
          document.querySelectorAll("[data-vs-swap]").forEach(function (part) {
            if (part.contains(document.activeElement)) focusLost = true;
            const replacement = fresh.getElementById(part.id);
            if (replacement) part.replaceWith(document.importNode(replacement, true));
            else part.remove();
          });
          if (focusLost) status.focus();
        });
    }

    function poll() {
      fetch(section.dataset.pollUrl, {headers: {Accept: "application/json"}, credentials: "same-origin",
                                      cache: "no-store"})
        .then(function (response) {
          return response.json().then(function (answer) {
            if (response.status === 429) { // past the user's request rate: again once it says
              const wait = Number(response.headers.get("Retry-After")) || interval / 1000;
              say(answer.error);
              window.setTimeout(poll, wait * 1000);
              return null;
            }
            if (!response.ok || answer.error) throw new Error(answer.error || "HTTP " + response.status);
            return answer;
          });
        })
        .then(function (answer) {
          if (answer === null) return undefined;
          if (answer.final) {
            section.dataset.final = "true";
            return showFinalPage().then(function () { say(answer.status_text); });
          }
          say(answer.status_text);
          const summary = document.getElementById("vs-batch-summary");
          const cell = summary && summary.querySelector("tbody td");
          if (cell) {
            cell.textContent = answer.status;
            cell.className = "vs-status-" + answer.status;
            const counts = summary.querySelector(".vs-counts");
            if (counts) counts.outerHTML = answer.counts_html;
          }
          window.setTimeout(poll, interval);
        })
        .catch(function (error) {
          say("This page could not be updated (" + error.message + "). Reload the page to see the batch’s state.");
        });
    }

    if (section.dataset.final !== "true") window.setTimeout(poll, interval);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button.vs-add-row").forEach(setUpAddRow);
    const all = document.getElementById("vs-select-all");
    if (all) setUpSelectAll(all);
    const upload = document.getElementById("vs-upload-form");
    if (upload) setUpUpload(upload);
    const batch = document.getElementById("vs-batch");
    if (batch) setUpBatch(batch);
  });
})();
