# greenops report's plotting libraries: vega, vega-lite and vega-embed from the npm registry at
# the versions of report/package-lock.json, installed into $(BUILD)/report (the HTML inlines
# them; node draws the SVG figures with them through report/render.mjs). Without npm the build
# goes on without them: greenops report and run --plot then say what is missing.
REPORT_ASSETS := $(BUILD)/report
REPORT_STAMP  := $(REPORT_ASSETS)/node_modules/.installed
EXTRA_ALL += $(REPORT_STAMP) $(REPORT_ASSETS)/render.mjs

$(REPORT_STAMP): report/package.json report/package-lock.json
	@mkdir -p $(REPORT_ASSETS)
	cp report/package.json report/package-lock.json $(REPORT_ASSETS)/
	@if command -v npm >/dev/null 2>&1; then \
		cd $(REPORT_ASSETS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
		echo "greenops: npm is not installed: building without greenops report's plotting libraries (scripts/deps.sh installs npm)" >&2; \
	fi

$(REPORT_ASSETS)/render.mjs: report/render.mjs
	@mkdir -p $(REPORT_ASSETS)
	cp $< $@
