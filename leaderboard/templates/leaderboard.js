function cellValue(td) {
  const v = td.getAttribute("data-v");
  if (v !== null) return parseFloat(v);
  const n = parseFloat(td.textContent.replace("#", ""));
  return isNaN(n) ? td.textContent.trim().toLowerCase() : n;
}
document.querySelectorAll("table.sortable").forEach(table => {
  table.querySelectorAll("thead th").forEach((th, col) => {
    th.addEventListener("click", () => {
      const asc = !th.classList.contains("asc");
      table.querySelectorAll("thead th").forEach(h => h.classList.remove("asc", "desc"));
      th.classList.add(asc ? "asc" : "desc");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
        const r = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return asc ? r : -r;
      });
      rows.forEach(r => body.appendChild(r));
    });
  });
});
function applyFilters() {
  const gen = document.getElementById("gen-filter").value;
  const ch = document.getElementById("ch-filter").value;
  document.querySelectorAll("#ranking tbody tr").forEach(tr => {
    tr.style.display = (!gen || tr.dataset.generator === gen) ? "" : "none";
  });
  const heads = Array.from(document.querySelectorAll("#heatmap thead th"));
  heads.forEach((th, i) => {
    const g = th.dataset.generator;
    const show = !g || !gen || g === gen;
    document.querySelectorAll("#heatmap tr").forEach(tr => {
      if (tr.cells[i]) tr.cells[i].style.display = show ? "" : "none";
    });
  });
  document.querySelectorAll("#heatmap tbody tr").forEach(tr => {
    tr.style.display = (!ch || tr.dataset.challenge === ch) ? "" : "none";
  });
}
document.getElementById("gen-filter").addEventListener("change", applyFilters);
document.getElementById("ch-filter").addEventListener("change", applyFilters);
console.log("leaderboard ready", meta.entries);
