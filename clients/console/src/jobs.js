// The jobs panel: the latest jobs from `GET /api/jobs`, then kept current by `job:*`
// events (each carries the job as the REST API returns it), with a progress bar each.

const MAX_JOBS = 20;

/** Whether `next` is a newer state of a job than `prev` (events may arrive after a reload). */
export function newer(prev, next) {
  if (!prev) return true;
  const a = Date.parse(prev.updated_at) || 0;
  const b = Date.parse(next.updated_at) || 0;
  if (b !== a) return b > a;
  return (next.progress ?? 0) >= (prev.progress ?? 0);
}

export class Jobs {
  constructor(list) {
    this.list = list;
    this.jobs = new Map();
  }

  reset(jobs) {
    this.jobs.clear();
    for (const j of jobs) this.jobs.set(j.id, j);
    this.render();
  }

  upsert(job) {
    if (!job || !job.id) return;
    if (!newer(this.jobs.get(job.id), job)) return;
    this.jobs.set(job.id, job);
    this.render();
  }

  render() {
    const doc = this.list.ownerDocument;
    const jobs = [...this.jobs.values()]
      .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)) || b.id.localeCompare(a.id))
      .slice(0, MAX_JOBS);
    const rows = jobs.map((j) => {
      let li = this.list.querySelector(`li[data-job="${CSS.escape(j.id)}"]`);
      if (!li) {
        li = doc.createElement("li");
        li.dataset.job = j.id;
        li.innerHTML =
          '<div class="head"><span><strong class="kind"></strong> <code class="id"></code></span>' +
          '<span class="status"></span></div><div class="bar"><progress max="100"></progress>' +
          '<span class="pct"></span></div><p class="help err"></p>';
      }
      const pct = Math.max(0, Math.min(100, Number(j.progress) || 0));
      li.querySelector(".kind").textContent = j.kind || j.queue || "job";
      li.querySelector(".id").textContent = j.id;
      const st = li.querySelector(".status");
      st.textContent = j.status;
      st.dataset.status = j.status;
      const bar = li.querySelector("progress");
      bar.value = pct;
      bar.setAttribute("aria-label", `${j.kind || "job"} ${j.id} progress`);
      li.dataset.progress = String(pct);
      li.dataset.status = j.status;
      li.querySelector(".pct").textContent = pct + " %";
      const err = li.querySelector(".err");
      err.textContent = j.last_error ? "Last error: " + j.last_error : "";
      err.hidden = !j.last_error;
      return li;
    });
    this.list.replaceChildren(...rows);
    if (rows.length === 0) {
      const li = doc.createElement("li");
      li.className = "empty";
      li.textContent = "No jobs yet.";
      this.list.append(li);
    }
  }
}
