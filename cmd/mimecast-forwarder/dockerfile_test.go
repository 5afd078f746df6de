package main

import (
	"debug/elf"
	"encoding/json"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
	line int
}

// parseDockerfile splits a Dockerfile into instructions: comments and
// blank lines dropped, backslash continuations joined.
func parseDockerfile(t *testing.T, text string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // comment inside a continuation
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends inside a continuation line")
	}
	return out
}

// shellWords splits s like a POSIX shell would for simple words: single
// and double quotes group and are removed.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand substitutes ${VAR}, ${VAR:-default} and $VAR from vars.
func expand(s string, vars map[string]string) string {
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		sm := varRE.FindStringSubmatch(m)
		name := sm[1] + sm[4]
		if v := vars[name]; v != "" {
			return v
		}
		return sm[3]
	})
}

// keyValues parses `K=V K2="V 2"` (ENV, LABEL, ARG).
func keyValues(s string) map[string]string {
	m := map[string]string{}
	for _, w := range shellWords(s) {
		k, v, _ := strings.Cut(w, "=")
		m[k] = v
	}
	return m
}

// TestDockerfile checks the Dockerfile against the conventions of
// shared/docs/go-libraries.md Part C without a Docker engine, and runs its
// go build command.
func TestDockerfile(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ins := parseDockerfile(t, string(b))

	// Stages.
	globalArgs := map[string]string{}
	var stages [][]instruction
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			stages = append(stages, []instruction{in})
		case len(stages) == 0:
			if in.cmd != "ARG" {
				t.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
			}
			for k, v := range keyValues(in.args) {
				globalArgs[k] = v
			}
		default:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	fromVars := maps.Clone(globalArgs)
	fromVars["BUILDPLATFORM"] = "$BUILDPLATFORM" // kept: BuildKit's own
	from := shellWords(expand(build[0].args, fromVars))
	if len(from) != 4 || from[0] != "--platform=$BUILDPLATFORM" ||
		from[1] != "golang:1.26" || !strings.EqualFold(from[2], "AS") {
		t.Errorf("build stage: FROM %s (expanded %q), want FROM --platform=$BUILDPLATFORM golang:1.26 AS <name>", build[0].args, from)
	}
	buildName := from[len(from)-1]
	finalImage := strings.Fields(final[0].args)[0]
	if !slices.Contains([]string{"gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian13:nonroot", "scratch"}, finalImage) {
		t.Errorf("final stage FROM %s, want distroless static nonroot or scratch", finalImage)
	}

	find := func(stage []instruction, cmd string) []instruction {
		var out []instruction
		for _, in := range stage {
			if in.cmd == cmd {
				out = append(out, in)
			}
		}
		return out
	}
	one := func(stage []instruction, cmd string) instruction {
		t.Helper()
		l := find(stage, cmd)
		if len(l) != 1 {
			t.Fatalf("final stage has %d %s instructions, want 1", len(l), cmd)
		}
		return l[0]
	}
	execForm := func(in instruction) []string {
		t.Helper()
		var argv []string
		if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
			t.Fatalf("line %d: %s %s is not exec (JSON) form: %v", in.line, in.cmd, in.args, err)
		}
		return argv
	}

	// Build stage: module download before the sources, static trimmed build.
	var goBuild string
	var buildIdx, modIdx, copyAllIdx = -1, -1, -1
	for i, in := range build {
		switch {
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			goBuild, buildIdx = in.args, i
		case in.cmd == "RUN" && strings.Contains(in.args, "go mod download"):
			modIdx = i
		case in.cmd == "COPY" && strings.HasPrefix(in.args, ". "):
			copyAllIdx = i
		}
	}
	if goBuild == "" {
		t.Fatal("no RUN … go build in the build stage")
	}
	buildArgs := map[string]bool{}
	for _, in := range find(build, "ARG") {
		for k := range keyValues(in.args) {
			buildArgs[k] = true
		}
	}
	for _, a := range []string{"TARGETOS", "TARGETARCH", "VERSION", "REVISION"} {
		if !buildArgs[a] {
			t.Errorf("build stage does not declare ARG %s", a)
		}
	}
	if modIdx < 0 || copyAllIdx < 0 || !(modIdx < copyAllIdx && copyAllIdx < buildIdx) {
		t.Errorf("want go mod download (%d) before COPY . (%d) before go build (%d)", modIdx, copyAllIdx, buildIdx)
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=${TARGETOS:-linux}", "GOARCH=${TARGETARCH}", "-trimpath", "-X main.version=${VERSION}", "-X main.revision=${REVISION}", "./cmd/mimecast-forwarder",
		"--mount=type=cache,target=/go/pkg/mod", "--mount=type=cache,target=/root/.cache/go-build"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build RUN lacks %q: %s", want, goBuild)
		}
	}

	// Final stage.
	if argv := execForm(one(final, "ENTRYPOINT")); !slices.Equal(argv, []string{"/mimecast-forwarder"}) {
		t.Errorf("ENTRYPOINT %q, want [\"/mimecast-forwarder\"]", argv)
	}
	if argv := execForm(one(final, "CMD")); len(argv) == 0 || argv[0] != "run" {
		t.Errorf("CMD %q, want exec form starting with run", argv)
	}
	if u := one(final, "USER").args; u != "65532:65532" {
		t.Errorf("USER %s, want 65532:65532", u)
	}
	env := map[string]string{}
	for _, in := range find(final, "ENV") {
		for k, v := range keyValues(in.args) {
			env[k] = v
		}
	}
	var volumes []string
	for _, in := range find(final, "VOLUME") {
		volumes = append(volumes, execForm(in)...)
	}
	if env["STATE_DIR"] == "" || !slices.Equal(volumes, []string{env["STATE_DIR"]}) {
		t.Errorf("VOLUME %q, want exactly the ENV STATE_DIR %q", volumes, env["STATE_DIR"])
	}
	if env["STATE_DIR"] != defaultOf("STATE_DIR") {
		t.Errorf("ENV STATE_DIR %q differs from the built-in default %q", env["STATE_DIR"], defaultOf("STATE_DIR"))
	}
	stateCopied := false
	binCopied := false
	for _, in := range find(final, "COPY") {
		w := strings.Fields(in.args)
		if slices.Contains(w, "--from="+buildName) && w[len(w)-1] == "/mimecast-forwarder" {
			binCopied = true
		}
		if slices.Contains(w, "--from="+buildName) && slices.Contains(w, "--chown=65532:65532") && w[len(w)-1] == env["STATE_DIR"] {
			stateCopied = true
		}
	}
	if !binCopied || !stateCopied {
		t.Errorf("final stage: binary copied to /mimecast-forwarder: %v; state dir copied with --chown=65532:65532 to %s: %v", binCopied, env["STATE_DIR"], stateCopied)
	}
	_, defPort, err := net.SplitHostPort(defaultOf("METRICS_ADDRESS"))
	if err != nil {
		t.Fatal(err)
	}
	if e := one(final, "EXPOSE").args; e != defPort && e != defPort+"/tcp" {
		t.Errorf("EXPOSE %s, want %s (the default METRICS_ADDRESS port)", e, defPort)
	}
	if ma := env["METRICS_ADDRESS"]; ma != "" {
		if _, p, err := net.SplitHostPort(ma); err != nil || p != defPort {
			t.Errorf("ENV METRICS_ADDRESS %q does not use the exposed port %s", ma, defPort)
		}
	}
	hc := one(final, "HEALTHCHECK").args
	_, cmdJSON, ok := strings.Cut(hc, "CMD ")
	var hcArgv []string
	if !ok || json.Unmarshal([]byte(strings.TrimSpace(cmdJSON)), &hcArgv) != nil || !slices.Equal(hcArgv, []string{"/mimecast-forwarder", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %s, want exec form CMD [\"/mimecast-forwarder\",\"healthcheck\"]", hc)
	}
	labels := map[string]string{}
	for _, in := range find(final, "LABEL") {
		for k, v := range keyValues(in.args) {
			labels[k] = v
		}
	}
	for _, l := range []string{"title", "description", "source", "url", "documentation", "vendor", "version", "revision", "created"} {
		if labels["org.opencontainers.image."+l] == "" {
			t.Errorf("LABEL org.opencontainers.image.%s missing", l)
		}
	}

	// .dockerignore keeps .git and local state out of the context.
	di, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	ignored := strings.Fields(string(di))
	if !slices.Contains(ignored, ".git") {
		t.Errorf(".dockerignore does not exclude .git: %q", ignored)
	}

	// Run the Dockerfile's own go build: its environment assignments and
	// arguments, VERSION=test, output into a temp dir.
	script := goBuild
	for strings.HasPrefix(script, "--mount=") {
		_, script, _ = strings.Cut(script, " ")
		script = strings.TrimSpace(script)
	}
	words := shellWords(expand(script, map[string]string{
		"VERSION": "test", "REVISION": "testrev", "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH,
	}))
	var assign []string
	for len(words) > 0 && strings.Contains(words[0], "=") {
		assign = append(assign, words[0])
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("cannot find the go build command in %q", script)
	}
	out := filepath.Join(t.TempDir(), "mimecast-forwarder")
	args := slices.Clone(words[1:])
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	if !slices.Contains(assign, "CGO_ENABLED=0") {
		t.Errorf("CGO_ENABLED=0 is not an assignment of the go build command: %q", assign)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), assign...)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build (%s go %s) failed: %v\n%s", strings.Join(assign, " "), strings.Join(args, " "), err, o)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a PT_INTERP program header: not static")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("binary needs shared libraries %q (%v): not static", libs, err)
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "mimecast-forwarder test (revision testrev, ") {
		t.Errorf("%s version = %q, %v; want mimecast-forwarder test (revision testrev, …)", out, v, err)
	}
}
