/* html.c - one static, self-contained index.html for one or more runs.
 *
 * Layout: a summary (totals per grade, per target), a legend, then the
 * matrix: one row per scenario id (grouped by family, in catalog order),
 * one column per target x listener. Each cell links to its detail: what
 * was sent and received (hex dumps), what was recorded, expected vs
 * actual, the reference.
 *
 * It reads without JavaScript: a detail opens as a side panel through the
 * CSS :target rule. The small inline script adds the filter box, the
 * "failures only" toggle, Escape to close, and keeps one panel open at a
 * time. No network: no external fonts, styles, scripts or images.
 */
#include "report.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"

/* Hex dump length in a detail; the JSON report keeps every byte. */
#define HTML_DUMP_MAX 4096

static const char css[] =
	":root{--pass:#2da44e;--nonstrict:#a4c639;--info:#3b7dd8;"
	"--unsupported:#8e7cc3;--fail:#d1242f;--skip:#d8dadd;--none:#f6f8fa;"
	"--line:#d0d7de;--text:#1f2328;--muted:#59636e}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;padding:1rem 1.5rem;font:14px/1.45 system-ui,-apple-system,"
	"'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:var(--text);"
	"background:#fff}\n"
	"h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}\n"
	"code,pre,.sid{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,"
	"'DejaVu Sans Mono','Liberation Mono',monospace;font-size:12.5px}\n"
	".muted{color:var(--muted)}\n"
	"table{border-collapse:collapse}\n"
	"th,td{border:1px solid var(--line);padding:.25rem .45rem;vertical-align:top}\n"
	"thead th{background:#f6f8fa}\n"
	".matrix thead{position:sticky;top:0;z-index:1}\n"
	".summary td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	".g-pass{background:var(--pass);color:#fff}\n"
	".g-nonstrict{background:var(--nonstrict);color:#1f2328}\n"
	".g-info{background:var(--info);color:#fff}\n"
	".g-unsupported{background:var(--unsupported);color:#fff}\n"
	".g-fail{background:var(--fail);color:#fff}\n"
	".g-skip{background:var(--skip);color:#1f2328}\n"
	".summary td.zero{background:none;color:var(--muted)}\n"
	".legend span{display:inline-block;padding:.1rem .5rem;margin:.1rem .3rem .1rem 0;"
	"border-radius:3px}\n"
	".controls{margin:.4rem 0 .6rem;display:flex;gap:1rem;align-items:center;"
	"flex-wrap:wrap}\n"
	".controls input[type=search]{padding:.25rem .4rem;width:20rem;max-width:100%}\n"
	".matrix th.tgt{text-align:center}\n"
	".matrix th.lst{text-align:center;font-weight:normal}\n"
	".matrix tr.fam th{background:#eef1f4;text-align:left}\n"
	".matrix .sid{white-space:nowrap;text-align:left}\n"
	".matrix .t0{border-left:3px solid #8c959f}\n"
	".matrix td.title{max-width:32rem}\n"
	".matrix td.cell{text-align:center;padding:0;min-width:4.2rem}\n"
	".matrix td.cell a{display:block;padding:.25rem .3rem;color:inherit;"
	"text-decoration:none;font-size:11.5px;font-weight:600}\n"
	".matrix td.cell a+a{border-top:1px solid #fff}\n"
	".matrix td.cell a:hover,.matrix td.cell a:focus{outline:2px solid #1f2328;"
	"outline-offset:-2px}\n"
	".matrix td.cell a.sel{outline:3px solid #1f2328;outline-offset:-3px}\n"
	".matrix td.none{background:var(--none);color:var(--muted)}\n"
	".detail{display:none;position:fixed;top:0;right:0;bottom:0;width:48rem;"
	"max-width:100%;overflow:auto;background:#fff;border-left:6px solid var(--line);"
	"box-shadow:-4px 0 16px rgba(0,0,0,.18);padding:1rem 1.2rem;z-index:10}\n"
	".detail:target,.js .detail.open{display:block}\n"
	".js .detail:target:not(.open){display:none}\n"
	".detail.b-pass{border-left-color:var(--pass)}.detail.b-nonstrict{border-left-color:var(--nonstrict)}\n"
	".detail.b-info{border-left-color:var(--info)}.detail.b-unsupported{border-left-color:var(--unsupported)}\n"
	".detail.b-fail{border-left-color:var(--fail)}.detail.b-skip{border-left-color:var(--skip)}\n"
	".detail h3{margin:.2rem 2rem .4rem 0;font-size:1.05rem}\n"
	".detail .close{position:absolute;top:.6rem;right:.9rem;font-size:1.4rem;"
	"text-decoration:none;color:var(--muted)}\n"
	".detail dl{display:grid;grid-template-columns:8rem 1fr;gap:.3rem .8rem;margin:0}\n"
	".detail dt{font-weight:600;color:var(--muted)}.detail dd{margin:0}\n"
	".detail pre{margin:0;padding:.4rem .5rem;background:#f6f8fa;border:1px solid var(--line);"
	"white-space:pre-wrap;word-break:break-all;max-height:24rem;overflow:auto}\n"
	".badge{display:inline-block;padding:.05rem .45rem;border-radius:3px;font-size:12px;"
	"font-weight:600}\n"
	".ctl{color:#b35900;background:#fff3e0}\n"
	".tag{display:inline-block;background:#eef1f4;border-radius:3px;padding:0 .35rem;"
	"margin-right:.25rem}\n"
	"ul.exp{margin:0;padding-left:1.1rem}\n"
	"ol.findings{margin:.2rem 0 .8rem;padding-left:1.6rem}\n"
	"ol.findings li{margin:.35rem 0}\n"
	".finding .what{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,"
	"'DejaVu Sans Mono','Liberation Mono',monospace;font-size:12.5px}\n"
	".finding .fmeta,.finding .fex{font-size:12.5px}\n"
	"#fnote{background:#fff8c5;padding:.1rem .4rem;border-radius:3px}\n"
	"[hidden]{display:none!important}\n"
	"@media print{.detail{display:block;position:static;box-shadow:none;width:auto}"
	".controls,.close{display:none}}\n";

static const char script[] =
	"(function(){\n"
	"'use strict';\n"
	"var d=document;d.body.classList.add('js');\n"
	"var rows=[].slice.call(d.querySelectorAll('#matrix tr.row'));\n"
	"var fams=[].slice.call(d.querySelectorAll('#matrix tr.fam'));\n"
	"var q=d.getElementById('filter'),fo=d.getElementById('failonly');\n"
	"var shown=d.getElementById('shown'),cur=null,curA=null;\n"
	"var only=null,fnote=d.getElementById('fnote');\n"
	"function apply(){\n"
	" var terms=q.value.toLowerCase().split(/\\s+/).filter(Boolean),n=0,vis={};\n"
	" rows.forEach(function(r){\n"
	"  var hay=(r.getAttribute('data-id')+' '+r.getAttribute('data-tags')+' '+\n"
	"   r.getAttribute('data-title')).toLowerCase();\n"
	"  var ok=terms.every(function(t){return hay.indexOf(t)>=0;});\n"
	"  if(fo.checked&&r.getAttribute('data-fail')!=='1')ok=false;\n"
	"  if(only&&!only[r.getAttribute('data-id')])ok=false;\n"
	"  r.hidden=!ok;if(ok){n++;vis[r.getAttribute('data-fam')]=1;}\n"
	" });\n"
	" fams.forEach(function(f){f.hidden=!vis[f.getAttribute('data-fam')];});\n"
	" shown.textContent=n+' of '+rows.length+' scenarios shown';\n"
	"}\n"
	"/* one finding's points only, in the matrix */\n"
	"function show(s){\n"
	" only={};s.getAttribute('data-ids').split(' ').forEach(function(i){if(i)only[i]=1;});\n"
	" fnote.hidden=false;fnote.querySelector('span').textContent=s.getAttribute('data-label');\n"
	" apply();d.getElementById('matrix-section').scrollIntoView();\n"
	"}\n"
	"function close(){\n"
	" if(cur)cur.classList.remove('open');if(curA)curA.classList.remove('sel');\n"
	" cur=curA=null;\n"
	" try{history.replaceState(null,'',location.pathname+location.search);}catch(e){}\n"
	"}\n"
	"function open(id,a){\n"
	" var el=d.getElementById(id);if(!el||!el.classList.contains('detail'))return;\n"
	" close();cur=el;el.classList.add('open');\n"
	" curA=a||d.querySelector('#matrix a[data-d=\"'+id+'\"]');if(curA)curA.classList.add('sel');\n"
	" try{history.replaceState(null,'','#'+id);}catch(e){}\n"
	" el.focus();\n"
	"}\n"
	"d.addEventListener('click',function(e){\n"
	" var s=e.target.closest('a[data-ids]');\n"
	" if(s){e.preventDefault();show(s);\n"
	"  try{history.replaceState(null,'','#'+s.id);}catch(x){}return;}\n"
	" if(e.target.closest('#fclear')){e.preventDefault();only=null;fnote.hidden=true;apply();return;}\n"
	" var a=e.target.closest('a[data-d]');\n"
	" if(a){e.preventDefault();open(a.getAttribute('data-d'),a);return;}\n"
	" if(e.target.closest('a.close')){e.preventDefault();close();}\n"
	"});\n"
	"d.addEventListener('keydown',function(e){if(e.key==='Escape')close();});\n"
	"q.addEventListener('input',apply);fo.addEventListener('change',apply);\n"
	"/* a bad address must not stop the rest of the script */\n"
	"var h=null;\n"
	"if(location.hash.length>1){try{h=d.getElementById(decodeURIComponent(location.hash.slice(1)));}catch(e){}}\n"
	"if(h&&h.hasAttribute('data-ids'))show(h);\n"
	"else if(h){try{open(h.id);}catch(e){}}\n"
	"apply();\n"
	"d.getElementById('matrix').setAttribute('data-ready','1');\n"
	"})();\n";

static const char *const grade_class[RPT_NGRADES] = {
	"pass", "nonstrict", "info", "fail", "unsupported", "skip",
};

/* Listener columns come in this order, then any others as they appear. */
static const char *const known_listeners[] = { "tcp", "ssl", "ws", "wss" };

struct row {
	const char *id;
	const struct rpt_result *first;  /* title, family, tags */
	size_t fam;                      /* index into families */
	bool fails;
};

struct fam {
	const char *name;
	size_t len;
};

struct page {
	const struct rpt_run *const *runs;
	size_t nruns;
	const char **lst;   /* listener columns */
	size_t nlst;
	struct row *rows;   /* first-appearance order */
	size_t nrows;
	struct fam *fams;
	size_t nfams;
	size_t *order;      /* rows grouped by family */
	size_t *off;        /* first global result index of each run */
	size_t *res_row;    /* global result index -> row */
	size_t *res_lst;    /* global result index -> listener column */
	size_t *head;       /* (row, run, listener) -> first result, or SIZE_MAX */
	size_t *next;       /* global result index -> next in the same cell */
	struct rpt_finding **finds; /* per run: its findings */
	size_t *nfinds;
};

static void page_free(struct page *p)
{
	free(p->lst);
	free(p->rows);
	free(p->fams);
	free(p->order);
	free(p->off);
	free(p->res_row);
	free(p->res_lst);
	free(p->head);
	free(p->next);
	for (size_t r = 0; p->finds && p->nfinds && r < p->nruns; r++)
		rpt_findings_free(p->finds[r], p->nfinds[r]);
	free(p->finds);
	free(p->nfinds);
}

static size_t find_listener(const struct page *p, const char *l)
{
	for (size_t i = 0; i < p->nlst; i++)
		if (strcmp(p->lst[i], l) == 0)
			return i;
	return SIZE_MAX;
}

static size_t find_row(const struct page *p, const char *id)
{
	/* Linear: catalogs hold hundreds of scenarios, not millions. */
	for (size_t i = p->nrows; i-- > 0;)
		if (strcmp(p->rows[i].id, id) == 0)
			return i;
	return SIZE_MAX;
}

static size_t find_fam(const struct page *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->nfams; i++)
		if (p->fams[i].len == len && memcmp(p->fams[i].name, name, len) == 0)
			return i;
	return SIZE_MAX;
}

static const char *res_listener(const struct rpt_result *r)
{
	return r->listener ? r->listener : "?";
}

/* Listener columns: the known ones first, in their order, then the rest
 * as they appear. */
static void page_listeners(struct page *p)
{
	const struct rpt_run *const *runs = p->runs;

	for (size_t i = 0; i < sizeof(known_listeners) / sizeof(*known_listeners); i++)
		for (size_t r = 0; r < p->nruns; r++)
			for (size_t j = 0; j < runs[r]->nresults; j++)
				if (strcmp(res_listener(&runs[r]->results[j]), known_listeners[i]) == 0 &&
				    find_listener(p, known_listeners[i]) == SIZE_MAX)
					p->lst[p->nlst++] = known_listeners[i];
	for (size_t r = 0; r < p->nruns; r++)
		for (size_t j = 0; j < runs[r]->nresults; j++) {
			const char *l = res_listener(&runs[r]->results[j]);

			if (find_listener(p, l) == SIZE_MAX)
				p->lst[p->nlst++] = l;
		}
}

/* The row of a result (a new one when its id is new), and its family. */
static size_t page_row(struct page *p, const struct rpt_result *res)
{
	const char *id = res->id ? res->id : "";
	size_t row = find_row(p, id), flen, fam;
	const char *fname;

	if (row != SIZE_MAX)
		return row;
	fname = rpt_result_family(res, &flen);
	fam = find_fam(p, fname, flen);
	if (fam == SIZE_MAX) {
		fam = p->nfams++;
		p->fams[fam].name = fname;
		p->fams[fam].len = flen;
	}
	row = p->nrows++;
	p->rows[row].id = id;
	p->rows[row].first = res;
	p->rows[row].fam = fam;
	return row;
}

/* Rows and families in order of first appearance; rows grouped by family. */
static void page_rows(struct page *p)
{
	size_t g = 0, k = 0;

	for (size_t r = 0; r < p->nruns; r++) {
		p->off[r] = g;
		for (size_t j = 0; j < p->runs[r]->nresults; j++, g++) {
			const struct rpt_result *res = &p->runs[r]->results[j];
			size_t row = page_row(p, res);

			if (rpt_grade_fails(res->grade, p->runs[r]->strict))
				p->rows[row].fails = true;
			p->res_row[g] = row;
			p->res_lst[g] = find_listener(p, res_listener(res));
		}
	}
	for (size_t f = 0; f < p->nfams; f++)
		for (size_t row = 0; row < p->nrows; row++)
			if (p->rows[row].fam == f)
				p->order[k++] = row;
}

/* Cells: each result chained into its (row, run, listener) cell, walking
 * backwards so that each chain is in run order. 0 or -1 (no memory). */
static int page_cells(struct page *p)
{
	size_t ncells;

	if (p->nrows && p->nlst && p->nrows > SIZE_MAX / (p->nruns * p->nlst * sizeof(size_t)))
		return -1;
	ncells = p->nrows * p->nruns * p->nlst;
	p->head = malloc((ncells + 1) * sizeof(*p->head));
	if (!p->head)
		return -1;
	for (size_t i = 0; i < ncells; i++)
		p->head[i] = SIZE_MAX;
	for (size_t r = p->nruns; r-- > 0;)
		for (size_t j = p->runs[r]->nresults; j-- > 0;) {
			size_t gi = p->off[r] + j;
			size_t c = (p->res_row[gi] * p->nruns + r) * p->nlst + p->res_lst[gi];

			p->next[gi] = p->head[c];
			p->head[c] = gi;
		}
	return 0;
}

static int page_build(struct page *p, const struct rpt_run *const *runs,
		      size_t nruns, struct perr *e)
{
	size_t total = 0;

	memset(p, 0, sizeof(*p));
	p->runs = runs;
	p->nruns = nruns;
	for (size_t r = 0; r < nruns; r++)
		total += runs[r]->nresults;
	p->lst = calloc(total + 4, sizeof(*p->lst));
	p->rows = calloc(total + 1, sizeof(*p->rows));
	p->fams = calloc(total + 1, sizeof(*p->fams));
	p->order = calloc(total + 1, sizeof(*p->order));
	p->off = calloc(nruns + 1, sizeof(*p->off));
	p->res_row = calloc(total + 1, sizeof(*p->res_row));
	p->res_lst = calloc(total + 1, sizeof(*p->res_lst));
	p->next = calloc(total + 1, sizeof(*p->next));
	p->finds = calloc(nruns + 1, sizeof(*p->finds));
	p->nfinds = calloc(nruns + 1, sizeof(*p->nfinds));
	if (!p->lst || !p->rows || !p->fams || !p->order || !p->off || !p->res_row ||
	    !p->res_lst || !p->next || !p->finds || !p->nfinds)
		goto oom;
	page_listeners(p);
	page_rows(p);
	if (page_cells(p) < 0)
		goto oom;
	for (size_t r = 0; r < nruns; r++)
		if (rpt_findings(runs[r], &p->finds[r], &p->nfinds[r], e) < 0) {
			page_free(p);
			return -1;
		}
	return 0;
oom:
	page_free(p);
	return perr_set(e, "out of memory");
}

/* ---- pieces ---------------------------------------------------------------- */

static void text(FILE *f, const char *s)
{
	esc_html(f, s, false);
}

static void attrv(FILE *f, const char *s)
{
	esc_html(f, s, true);
}

/* Text of up to len bytes of s (a family name is a slice of an id). */
static void text_n(FILE *f, const char *s, size_t len, bool attr)
{
	char *c = strndup(s, len);

	esc_html(f, c ? c : "?", attr);
	free(c);
}

static void hexdump(FILE *f, const unsigned char *p, size_t n)
{
	size_t m = n > HTML_DUMP_MAX ? HTML_DUMP_MAX : n;

	if (n == 0) {
		fputs("<span class=\"muted\">(none)</span>", f);
		return;
	}
	fputs("<pre class=\"hex\">", f);
	for (size_t off = 0; off < m; off += 16) {
		fprintf(f, "%04zx  ", off);
		for (size_t i = 0; i < 16; i++) {
			if (off + i < m)
				fprintf(f, "%02x ", p[off + i]);
			else
				fputs("   ", f);
			if (i == 7)
				putc(' ', f);
		}
		fputs(" |", f);
		for (size_t i = 0; i < 16 && off + i < m; i++) {
			unsigned char c = p[off + i];

			if (c == '<')
				fputs("&lt;", f);
			else if (c == '>')
				fputs("&gt;", f);
			else if (c == '&')
				fputs("&amp;", f);
			else
				putc(c >= 0x20 && c < 0x7f ? c : '.', f);
		}
		fputs("|\n", f);
	}
	if (m < n)
		fprintf(f, "... %zu more bytes (see the JSON report)\n", n - m);
	fputs("</pre>", f);
}

static void badge(FILE *f, enum rpt_grade g)
{
	fprintf(f, "<span class=\"badge g-%s\">%s</span>", grade_class[g],
		rpt_grade_name(g));
}

static void run_label(FILE *f, const struct page *p, size_t r)
{
	const char *t = p->runs[r]->target;

	text(f, t && *t ? t : "target");
	/* Same target twice (two configurations): number them. */
	for (size_t o = 0; o < p->nruns; o++) {
		const char *u = p->runs[o]->target;

		if (o != r && strcmp(t ? t : "", u ? u : "") == 0) {
			fprintf(f, " #%zu", r + 1);
			break;
		}
	}
}

static void fmt_time(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, cap, "?");
}

static void summary(FILE *f, const struct page *p)
{
	fputs("<section id=\"summary\"><h2>Summary</h2>\n"
	      "<table class=\"summary\"><thead><tr><th>target</th><th>profile</th>"
	      "<th>started</th><th>duration</th>", f);
	for (int g = 0; g < RPT_NGRADES; g++)
		fprintf(f, "<th>%s</th>", rpt_grade_name(g));
	fputs("<th>total</th><th>verdict</th></tr></thead>\n<tbody>\n", f);
	for (size_t r = 0; r < p->nruns; r++) {
		const struct rpt_run *run = p->runs[r];
		size_t fails = rpt_run_failures(run);
		char ts[48];

		fmt_time(run->started, ts, sizeof(ts));
		fputs("<tr class=\"run\"><th>", f);
		run_label(f, p, r);
		fputs("</th><td><code>", f);
		text(f, run->profile ? run->profile : "");
		fprintf(f, "</code></td><td>%s</td><td class=\"n\">%lld.%03lld s</td>",
			ts, run->duration_ms / 1000, llabs(run->duration_ms % 1000));
		for (int g = 0; g < RPT_NGRADES; g++)
			fprintf(f, "<td class=\"n %s%s\" data-grade=\"%s\">%zu</td>",
				run->totals[g] ? "g-" : "zero",
				run->totals[g] ? grade_class[g] : "",
				rpt_grade_name(g), run->totals[g]);
		fprintf(f, "<td class=\"n\">%zu</td><td>", run->nresults);
		if (fails)
			fprintf(f, "<span class=\"badge g-fail\">%zu failed</span>", fails);
		else
			fputs("<span class=\"badge g-pass\">passed</span>", f);
		fprintf(f, "%s</td></tr>\n", run->strict ? " <span class=\"muted\">(strict)</span>" : "");
	}
	fputs("</tbody></table>\n<p class=\"legend\">", f);
	fputs("<span class=\"g-pass\">PASS: as the spec requires</span>"
	      "<span class=\"g-nonstrict\">NON-STRICT: allowed, not recommended</span>"
	      "<span class=\"g-info\">INFO: behaviour recorded</span>"
	      "<span class=\"g-unsupported\">UNSUPPORTED: feature missing</span>"
	      "<span class=\"g-fail\">FAIL: requirement broken</span>"
	      "<span class=\"g-skip\">SKIP: not run</span>", f);
	fputs("</p></section>\n", f);
}

/* One finding: what happened, where, how many points, the clauses, a few
 * points to open, and a link that shows all of them in the matrix. */
static void finding(FILE *f, const struct page *p, size_t r, size_t k)
{
	const struct rpt_finding *fd = &p->finds[r][k];
	const struct rpt_run *run = p->runs[r];
	size_t i, j, shown = 0;

	fprintf(f, "<li class=\"finding\" data-grade=\"%s\">", rpt_grade_name(fd->grade));
	badge(f, fd->grade);
	fputs(" <b>", f);
	text(f, fd->listeners);
	fputs("</b>: <span class=\"what\">", f);
	text(f, fd->what);
	fprintf(f, "</span> &middot; <b>%zu point%s</b>", fd->npoints, fd->npoints == 1 ? "" : "s");
	fputs("<div class=\"fmeta muted\">", f);
	text(f, fd->scope);
	if (fd->expected) {
		fputs(" &middot; expected: ", f);
		text(f, fd->expected);
	}
	if (fd->clauses) {
		fputs(" &middot; ", f);
		text(f, fd->clauses);
	}
	fputs("</div><div class=\"fex\">e.g. ", f);
	for (i = 0; i < fd->npoints && shown < 3; i++, shown++) {
		const struct rpt_result *res = &run->results[fd->points[i]];

		fprintf(f, "%s<a href=\"#d%zu-%zu\" data-d=\"d%zu-%zu\"><code>", shown ? ", " : "",
			r, fd->points[i], r, fd->points[i]);
		text(f, res->id);
		fputs("</code> [", f);
		text(f, res_listener(res));
		fputs("]</a>", f);
	}
	fprintf(f, " &middot; <a href=\"#fs%zu-%zu\" id=\"fs%zu-%zu\" class=\"fshow\" data-ids=\"", r, k, r, k);
	for (i = 0; i < fd->npoints; i++) {
		const char *id = run->results[fd->points[i]].id;
		bool seen = false;

		for (j = 0; j < i && !seen; j++)
			seen = !strcmp(run->results[fd->points[j]].id ? run->results[fd->points[j]].id : "",
				       id ? id : "");
		if (!seen) {
			attrv(f, id ? id : "");
			putc(' ', f);
		}
	}
	fprintf(f, "\" data-label=\"%s: %zu point%s\">show them in the matrix</a></div></li>\n",
		rpt_grade_name(fd->grade), fd->npoints, fd->npoints == 1 ? "" : "s");
}

/* The findings of every run, above the matrix: the few distinct problems
 * a reader wants first, each with the points that show it. */
static void findings(FILE *f, const struct page *p)
{
	fputs("<section id=\"findings\"><h2>Findings</h2>\n"
	      "<p class=\"muted\">The points that did not pass, grouped by what actually "
	      "happened (on any listener), most severe first.</p>\n", f);
	for (size_t r = 0; r < p->nruns; r++) {
		if (p->nruns > 1) {
			fputs("<h3>", f);
			run_label(f, p, r);
			fputs("</h3>\n", f);
		}
		if (!p->nfinds[r]) {
			fputs("<p class=\"nofinding\">No problem found: every point passed, or is "
			      "INFO or SKIP.</p>\n", f);
			continue;
		}
		fputs("<ol class=\"findings\">\n", f);
		for (size_t k = 0; k < p->nfinds[r]; k++)
			finding(f, p, r, k);
		fputs("</ol>\n", f);
	}
	fputs("</section>\n", f);
}

static void matrix_head(FILE *f, const struct page *p)
{
	fputs("<table id=\"matrix\" class=\"matrix\"><thead><tr>"
	      "<th rowspan=\"2\">scenario</th><th rowspan=\"2\">title</th>", f);
	for (size_t r = 0; r < p->nruns; r++) {
		fprintf(f, "<th class=\"tgt t0\" colspan=\"%zu\">", p->nlst);
		run_label(f, p, r);
		fputs("</th>", f);
	}
	fputs("</tr>\n<tr>", f);
	for (size_t r = 0; r < p->nruns; r++)
		for (size_t l = 0; l < p->nlst; l++) {
			fputs(l ? "<th class=\"lst\">" : "<th class=\"lst t0\">", f);
			text(f, p->lst[l]);
			fputs("</th>", f);
		}
	fputs("</tr></thead>\n", f);
}

static void cell(FILE *f, const struct page *p, size_t row, size_t r, size_t l)
{
	size_t gi = p->head[(row * p->nruns + r) * p->nlst + l];

	if (gi == SIZE_MAX) {
		fprintf(f, "<td class=\"cell none%s\">&middot;</td>", l ? "" : " t0");
		return;
	}
	fprintf(f, "<td class=\"cell g-%s%s\">",
		grade_class[p->runs[r]->results[gi - p->off[r]].grade], l ? "" : " t0");
	for (; gi != SIZE_MAX; gi = p->next[gi]) {
		size_t j = gi - p->off[r];
		const struct rpt_result *res = &p->runs[r]->results[j];

		fprintf(f, "<a class=\"g-%s\" href=\"#d%zu-%zu\" data-d=\"d%zu-%zu\" "
			"data-grade=\"%s\" title=\"", grade_class[res->grade],
			r, j, r, j, rpt_grade_name(res->grade));
		attrv(f, p->runs[r]->target);
		fputs(" ", f);
		attrv(f, res_listener(res));
		fprintf(f, ": %s", rpt_grade_name(res->grade));
		if (*rpt_result_what(res)) {
			/* what happened, not only that it was not acceptable */
			fputs(": ", f);
			attrv(f, rpt_result_what(res));
		}
		if (res->clause) {
			/* what was broken, in the spec's own words */
			fputs(" [", f);
			attrv(f, res->clause);
			fputs(", ", f);
			attrv(f, res->level ? res->level : "");
			fputs("] ", f);
			attrv(f, res->quote ? res->quote : "");
		}
		fprintf(f, "\">%s</a>", rpt_grade_name(res->grade));
	}
	fputs("</td>", f);
}

static void tags_attr(FILE *f, const struct page *p, size_t row)
{
	/* Tags of every result of this scenario, in every run. */
	for (size_t r = 0; r < p->nruns; r++)
		for (size_t j = 0; j < p->runs[r]->nresults; j++) {
			const struct rpt_result *res = &p->runs[r]->results[j];

			if (p->res_row[p->off[r] + j] != row)
				continue;
			for (size_t t = 0; t < res->ntags; t++) {
				attrv(f, res->tags[t]);
				putc(' ', f);
			}
			if (res->ntags)
				return;
		}
}

static void matrix(FILE *f, const struct page *p)
{
	size_t cols = 2 + p->nruns * p->nlst;
	size_t fam = SIZE_MAX;

	fputs("<section id=\"matrix-section\"><h2>Matrix</h2>\n"
	      "<div class=\"controls\"><label>Filter "
	      "<input id=\"filter\" type=\"search\" placeholder=\"id, tag or title\" "
	      "autocomplete=\"off\"></label>"
	      "<label><input id=\"failonly\" type=\"checkbox\"> failures only</label>"
	      "<span id=\"fnote\" hidden>showing one finding (<span></span>) "
	      "<a href=\"#matrix-section\" id=\"fclear\">show all</a></span>"
	      "<span id=\"shown\" class=\"muted\"></span></div>\n", f);
	matrix_head(f, p);
	fputs("<tbody>\n", f);
	for (size_t k = 0; k < p->nrows; k++) {
		size_t row = p->order[k];
		const struct row *rw = &p->rows[row];

		if (rw->fam != fam) {
			fam = rw->fam;
			fprintf(f, "<tr class=\"fam\" data-fam=\"%zu\"><th colspan=\"%zu\">",
				fam, cols);
			text_n(f, p->fams[fam].name, p->fams[fam].len, false);
			fputs("</th></tr>\n", f);
		}
		fprintf(f, "<tr class=\"row\" data-fam=\"%zu\" data-fail=\"%d\" data-id=\"",
			fam, rw->fails ? 1 : 0);
		attrv(f, rw->id);
		fputs("\" data-title=\"", f);
		attrv(f, rw->first->title);
		fputs("\" data-tags=\"", f);
		tags_attr(f, p, row);
		fputs("\"><th class=\"sid\">", f);
		text(f, rw->id);
		fputs("</th><td class=\"title\">", f);
		text(f, rw->first->title);
		fputs("</td>", f);
		for (size_t r = 0; r < p->nruns; r++)
			for (size_t l = 0; l < p->nlst; l++)
				cell(f, p, row, r, l);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table></section>\n", f);
}

static void dd_text(FILE *f, const char *dt, const char *s, bool pre)
{
	if (!s)
		return;
	fprintf(f, "<dt>%s</dt><dd>%s", dt, pre ? "<pre>" : "");
	text(f, s);
	fprintf(f, "%s</dd>\n", pre ? "</pre>" : "");
}

static void detail(FILE *f, const struct page *p, size_t r, size_t j)
{
	const struct rpt_run *run = p->runs[r];
	const struct rpt_result *res = &run->results[j];

	fprintf(f, "<div class=\"detail b-%s\" id=\"d%zu-%zu\" tabindex=\"-1\">"
		"<a class=\"close\" href=\"#matrix\" title=\"close (Esc)\">&times;</a>\n<h3>",
		grade_class[res->grade], r, j);
	badge(f, res->grade);
	fputs(" <code>", f);
	text(f, res->id);
	fputs("</code> [", f);
	text(f, res_listener(res));
	fputs("] on ", f);
	run_label(f, p, r);
	fputs("</h3>\n<p>", f);
	text(f, res->title);
	fputs("</p>\n<dl>\n", f);
	dd_text(f, "reason", res->reason, false);
	fputs("<dt>expected</dt><dd>", f);
	if (res->nexpected == 0) {
		fputs("<span class=\"muted\">(not listed)</span>", f);
	} else {
		fputs("<ul class=\"exp\">", f);
		for (size_t i = 0; i < res->nexpected; i++) {
			fputs("<li>", f);
			text(f, res->expected[i]);
			fputs("</li>", f);
		}
		fputs("</ul>", f);
	}
	fputs("</dd>\n<dt>actual</dt><dd>", f);
	text(f, res->actual ? res->actual : "");
	fputs("</dd>\n", f);
	dd_text(f, "reference", res->ref, false);
	if (res->clause) {
		fputs("<dt>clause</dt><dd><code>", f);
		text(f, res->clause);
		fputs("</code> <span class=\"level\">", f);
		text(f, res->level ? res->level : "");
		fputs("</span><blockquote>", f);
		text(f, res->quote ? res->quote : "");
		fputs("</blockquote></dd>\n", f);
	}
	if (res->ntags) {
		fputs("<dt>tags</dt><dd>", f);
		for (size_t i = 0; i < res->ntags; i++) {
			fputs("<span class=\"tag\">", f);
			text(f, res->tags[i]);
			fputs("</span>", f);
		}
		fputs("</dd>\n", f);
	}
	fprintf(f, "<dt>sent</dt><dd><span class=\"muted\">%zu bytes</span>",
		res->sent_len);
	hexdump(f, res->sent, res->sent_len);
	fprintf(f, "</dd>\n<dt>received</dt><dd><span class=\"muted\">%zu bytes</span>",
		res->received_len);
	hexdump(f, res->received, res->received_len);
	fputs("</dd>\n", f);
	dd_text(f, "recorded", res->recorded, true);
	dd_text(f, "broker log", res->log, true);
	fprintf(f, "<dt>duration</dt><dd>%lld ms</dd>\n", res->duration_ms);
	fputs("<dt>profile</dt><dd><code>", f);
	text(f, run->profile ? run->profile : "");
	fputs("</code></dd>\n</dl></div>\n", f);
}

static void page_write(FILE *f, const struct page *p)
{
	const char *version = p->nruns && p->runs[0]->tool_version ?
			      p->runs[0]->tool_version : "";

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>ppmq-conform report", f);
	for (size_t r = 0; r < p->nruns; r++) {
		fputs(r ? ", " : ": ", f);
		run_label(f, p, r);
	}
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
	fputs("<header><h1>PROXY protocol conformance</h1>"
	      "<p class=\"muted\">ppmq-conform ", f);
	text(f, version);
	fprintf(f, " &middot; %zu target(s) &middot; %zu scenario(s)</p></header>\n",
		p->nruns, p->nrows);
	summary(f, p);
	findings(f, p);
	matrix(f, p);
	fputs("<div id=\"details\">\n", f);
	for (size_t r = 0; r < p->nruns; r++)
		for (size_t j = 0; j < p->runs[r]->nresults; j++)
			detail(f, p, r, j);
	fprintf(f, "</div>\n<script>\n%s</script>\n</body></html>\n", script);
}

/* mkdir -p: the report directory may be new, as may its parents. */
static int make_dir(const char *dir, struct perr *e)
{
	char *path = strdup(dir);
	struct stat st;

	if (!path)
		return perr_set(e, "out of memory");
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST) {
			perr_errno(e, "mkdir %s", path);
			free(path);
			return -1;
		}
		*s = '/';
	}
	free(path);
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		return perr_errno(e, "mkdir %s", dir);
	if (stat(dir, &st) < 0)
		return perr_errno(e, "%s", dir);
	if (!S_ISDIR(st.st_mode))
		return perr_set(e, "%s: not a directory", dir);
	return 0;
}

int rpt_write_html(const char *dir, const struct rpt_run *const *runs,
		   size_t nruns, struct perr *e)
{
	struct page p;
	char *path = NULL, *tmp = NULL;
	FILE *f;

	if (make_dir(dir, e) < 0)
		return -1;
	if (asprintf(&path, "%s/index.html", dir) < 0) {
		path = NULL;
		goto oom;
	}
	if (asprintf(&tmp, "%s/.index.html.tmp", dir) < 0) {
		tmp = NULL;
		goto oom;
	}
	if (page_build(&p, runs, nruns, e) < 0)
		goto fail;
	f = fopen(tmp, "w");
	if (!f) {
		perr_errno(e, "%s", tmp);
		page_free(&p);
		goto fail;
	}
	errno = 0;
	page_write(f, &p);
	page_free(&p);
	if (rpt_out_close(f, tmp, false, e) < 0) {
		unlink(tmp);
		goto fail;
	}
	/* Readers never see a half-written page. */
	if (rename(tmp, path) < 0) {
		perr_errno(e, "rename %s", path);
		unlink(tmp);
		goto fail;
	}
	free(path);
	free(tmp);
	return 0;
oom:
	perr_set(e, "out of memory");
fail:
	free(path);
	free(tmp);
	return -1;
}
