// The search page: no framework, no external resources. Every URL is relative, so the page works below any prefix.
"use strict";
const $ = (id) => document.getElementById(id);
const drop = $("drop"), file = $("file"), status = $("status"), results = $("results"), preview = $("query-preview");
let busy = false;

async function loadInfo() {
  try {
    const response = await fetch("api/info");
    const info = await response.json();
    $("info").textContent = `${info.count} images · ${info.architecture ?? "model"} ${info.dimension}-d ${info.metric}` +
      (info.trainingDataset ? ` · trained on ${info.trainingDataset}` : "") + ` · ${info.executionProvider}`;
  } catch (e) {
    $("info").textContent = "The index information could not be loaded.";
  }
}

function showPreview(blob) {
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(blob);
  preview.alt = "The query image";
  preview.hidden = false;
}

async function search(blob, description) {
  if (busy) return;
  busy = true;
  showPreview(blob);
  status.classList.remove("error");
  status.textContent = `Searching with ${description}…`;
  const started = performance.now();
  try {
    const response = await fetch(`api/search?k=${encodeURIComponent($("k").value)}`, {
      method: "POST",
      headers: { "Content-Type": blob.type && blob.type.startsWith("image/") ? blob.type : "application/octet-stream" },
      body: blob,
    });
    const body = await response.json();
    if (!response.ok) {
      status.classList.add("error");
      status.textContent = `${body.title ?? "Error"}: ${body.detail ?? response.status}`;
      results.replaceChildren();
      return;
    }
    const total = performance.now() - started;
    render(body.results);
    status.textContent = `${body.results.length} results for ${description} in ${body.milliseconds.toFixed(1)} ms on the server (${total.toFixed(0)} ms in all).`;
  } catch (e) {
    status.classList.add("error");
    status.textContent = `The search failed: ${e.message}`;
  } finally {
    busy = false;
  }
}

function render(hits) {
  const items = hits.map((hit) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.key = hit.key;
    button.dataset.imageUrl = hit.imageUrl;
    const label = hit.label ?? "(no label)";
    const img = document.createElement("img");
    img.src = hit.thumbnailUrl;
    img.alt = "";
    img.loading = "lazy";
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = `${hit.rank}. ${label}`;
    const distance = document.createElement("span");
    distance.className = "distance";
    distance.textContent = `distance ${hit.distance.toFixed(3)}`;
    const hint = document.createElement("span");
    hint.className = "visually-hidden";
    hint.textContent = " (search with this image)";
    button.append(img, name, distance, hint);
    button.addEventListener("click", () => searchByResult(hit, label));
    li.append(button);
    return li;
  });
  results.replaceChildren(...items);
}


async function searchByResult(hit, label) {
  const response = await fetch(hit.imageUrl);
  if (!response.ok) {
    status.classList.add("error");
    status.textContent = `Image ${hit.key} could not be fetched (${response.status}).`;
    return;
  }
  await search(await response.blob(), `result ${hit.rank} (${label})`);
}

function firstImage(items) {
  for (const item of items ?? []) {
    const blob = item.kind === "file" ? item.getAsFile() : item;
    if (blob && blob.type.startsWith("image/")) return blob;
  }
  return null;
}

file.addEventListener("change", () => { if (file.files.length) search(file.files[0], file.files[0].name); file.value = ""; });
drop.addEventListener("click", () => file.click());
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); file.click(); } });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const blob = firstImage(e.dataTransfer.files);
  if (blob) search(blob, blob.name || "the dropped image");
  else { status.classList.add("error"); status.textContent = "That was not an image file."; }
});
document.addEventListener("paste", (e) => {
  const blob = firstImage(e.clipboardData?.items);
  if (blob) search(blob, "the pasted image");
});
loadInfo();
