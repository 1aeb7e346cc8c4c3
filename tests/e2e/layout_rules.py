"""The layout rules of docs/ARCHITECTURE.md, checked over a source tree (tests/e2e/layout.sh).

    python3 layout_rules.py ROOT RULE      prints one violation a line (none: the rule holds)
    python3 layout_rules.py ROOT break RULE  changes the tree at ROOT so that RULE is broken
                                            (the self-test: every rule must be able to fail)

Only #include "part/file.h" lines are read (the project's include style); system headers
and the public <greenops/greenops.h> are free to every part.
"""
import os
import re
import sys

# What each part may include besides itself: the arrows of docs/ARCHITECTURE.md.
ARROWS = {
    "src/base": {"base"},
    "src/sources": {"base"},
    "src/meter": {"base", "sources"},
    "src/store": {"base"},
    "src/loadgen": {"base"},
    "src/analysis": {"base"},
    "src/model": {"base", "onnx"},  # onnx/: the protobuf-c code generated into the build
    "src/sweep": {"base", "store"},
    "src/cli": {"base", "sources", "meter", "store", "loadgen", "analysis", "model", "sweep"},
    "contrib/slurm": {"store"},
}
LIBRARY = ["src/base", "src/sources", "src/meter", "src/store"]
TOOL_PARTS = {"cli", "loadgen", "analysis", "model", "sweep"}
# The CLI's one diagnostic use of the sources' internals (docs/ARCHITECTURE.md, "greenops list").
CLI_SOURCES_USERS = {"src/cli/cmd_list.c"}
# Files of src/sources that are not a source.
SOURCES_SHARED = {"registry", "source", "sysfs", "select"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([A-Za-z0-9_.]+)"', re.M)
ENV_WRITE = re.compile(r"\b(setenv|putenv|unsetenv|clearenv)\s*\(")


def files(root, folder):
    d = os.path.join(root, folder)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(d) if f.endswith((".c", ".h")))


def includes(root, path):
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        return INCLUDE.findall(f.read())


def stem(name):
    s = os.path.splitext(os.path.basename(name))[0]
    return re.sub(r"_(internal|types)$", "", s)


def rule_folders(root):
    """Every folder under src/ has arrows (a new part says what it may include)."""
    out = []
    for d in sorted(os.listdir(os.path.join(root, "src"))):
        if os.path.isdir(os.path.join(root, "src", d)) and "src/" + d not in ARROWS:
            out.append(f"src/{d}: a part with no arrows in layout_rules.py and docs/ARCHITECTURE.md")
    return out


def rule_arrows(root):
    """Each part includes only itself and what its arrows allow."""
    out = []
    for folder, allowed in ARROWS.items():
        own = os.path.basename(folder) if folder.startswith("src/") else None
        for f in files(root, folder):
            for part, h in includes(root, f):
                if part == own or part in allowed:
                    if folder == "src/cli" and part == "sources" and f not in CLI_SOURCES_USERS:
                        out.append(f"{f}: includes sources/{h} (only {', '.join(CLI_SOURCES_USERS)} may)")
                    continue
                out.append(f"{f}: includes {part}/{h}, but {folder} may include only "
                           f"{', '.join(sorted(allowed | ({own} if own else set())))}")
    return out


def rule_library_tool(root):
    """The library folders never include the tool's parts (cli, loadgen, analysis, model, sweep)."""
    return [f"{f}: includes {part}/{h}" for folder in LIBRARY for f in files(root, folder)
            for part, h in includes(root, f) if part in TOOL_PARTS]


def source_names(root):
    return {stem(f) for f in files(root, "src/sources") if f.endswith(".c")} - SOURCES_SHARED


def rule_sources(root):
    """A source's header is included by that source only (no source uses another)."""
    names = source_names(root)
    out = []
    for folder in ARROWS:
        for f in files(root, folder):
            for part, h in includes(root, f):
                if part == "sources" and stem(h) in names and not (
                        folder == "src/sources" and stem(f) == stem(h)):
                    out.append(f"{f}: includes sources/{h}, the {stem(h)} source's own header")
    return out


def rule_env(root):
    """No setenv/putenv in the library: options reach a source through its open()."""
    out = []
    for folder in LIBRARY:
        for f in files(root, folder):
            with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
                for n, line in enumerate(fh, 1):
                    if ENV_WRITE.search(line):
                        out.append(f"{f}:{n}: {line.strip()}")
    return out


def meter_graph(root):
    """Modules of src/meter (a .c, its .h and its _internal.h are one) and their includes."""
    g = {}
    for f in files(root, "src/meter"):
        g.setdefault(stem(f), set())
        for part, h in includes(root, f):
            if part == "meter" and stem(h) != stem(f):
                g[stem(f)].add(stem(h))
    return g


def rule_circle(root):
    """No include circle among the metering files."""
    g = meter_graph(root)
    out, state = [], {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                out.append("src/meter: " + " -> ".join(path[path.index(m):] + [m]))
            elif m not in state:
                visit(m, path + [m])
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n, [n])
    return out


RULES = {
    "folders": rule_folders,
    "arrows": rule_arrows,
    "library-tool": rule_library_tool,
    "sources": rule_sources,
    "env": rule_env,
    "circle": rule_circle,
}


def append(root, path, text):
    with open(os.path.join(root, path), "a", encoding="utf-8") as f:
        f.write(text)


def first_c(root, folder):
    return next(f for f in files(root, folder) if f.endswith(".c"))


def breaker(root, rule):
    """Breaks one rule in the copy at root, choosing files that exist there."""
    if rule == "folders":
        os.makedirs(os.path.join(root, "src", "newpart"))
    elif rule == "arrows":
        append(root, first_c(root, "src/sources"), '\n#include "meter/series.h"\n')
    elif rule == "library-tool":
        append(root, first_c(root, "src/store"), '\n#include "loadgen/bench.h"\n')
    elif rule == "sources":
        a, b = sorted(source_names(root))[:2]
        append(root, f"src/sources/{a}.c", f'\n#include "sources/{b}.h"\n')
    elif rule == "env":
        append(root, first_c(root, "src/meter"), '\nstatic void f(void) { setenv("X", "1", 1); }\n')
    elif rule == "circle":
        # Reverse one existing arrow between two metering modules.
        g = meter_graph(root)
        headers = {stem(f): os.path.basename(f) for f in files(root, "src/meter") if f.endswith(".h")}
        a, b = next((a, b) for a in sorted(g) for b in sorted(g[a]) if a in headers)
        target = next(f for f in files(root, "src/meter") if stem(f) == b)
        append(root, target, f'\n#include "meter/{headers[a]}"\n')


def main():
    root = sys.argv[1]
    if sys.argv[2] == "break":
        breaker(root, sys.argv[3])
        return 0
    for v in RULES[sys.argv[2]](root):
        print(v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
