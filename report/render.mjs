// Writes each Vega-Lite figure of a greenops report as SVG, with the same vega and vega-lite
// the HTML inlines: node render.mjs JOBS.json, where JOBS.json is [{"spec": {...}, "svg": PATH}].
// Prints one line per figure written; exits 1 at the first figure that cannot be drawn.
import { readFileSync, writeFileSync } from "node:fs";
import * as vega from "vega";
import * as vl from "vega-lite";

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const job of jobs) {
	try {
		const compiled = vl.compile(job.spec).spec;
		const view = new vega.View(vega.parse(compiled), { renderer: "none" });
		const svg = await view.toSVG();
		writeFileSync(job.svg, svg);
		view.finalize();
		console.log(job.svg);
	} catch (e) {
		console.error(`cannot draw ${job.svg}: ${e.message}`);
		process.exit(1);
	}
}
