package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
)

// helperArg marks a run of this test binary as a checker command: the
// binary is re-executed as `<test binary> chaoslab-checker-helper <mode> …`.
const helperArg = "chaoslab-checker-helper"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == helperArg {
		os.Exit(checkerHelper(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

// checkerHelper is a tiny checker, by mode:
//
//   - verdict: reads the run on stdin and answers a verdict over its writes:
//     each acked or accepted write is examined, those whose id starts with
//     "bad" are violations; its detail is the scenario and its arguments.
//   - garbage: answers something that is not a verdict, says why on stderr.
//   - exit: says why on stderr and exits 3.
//   - sleep: sleeps far longer than any timeout.
//   - settle FILE: counts its calls in FILE and answers 2, 1, then 0
//     pending.
func checkerHelper(mode string, args []string) int {
	switch mode {
	case "verdict":
		var in lab.RunInput
		if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
			fmt.Fprintln(os.Stderr, "reading the run:", err)
			return 2
		}
		violations := []lab.Violation{}
		writes := append(append([]lab.Write{}, in.Acked...), in.Accepted...)
		for _, w := range writes {
			if strings.HasPrefix(w.ID, "bad") {
				violations = append(violations, lab.Violation{ID: w.ID, Detail: "key " + w.Key + " charged twice"})
			}
		}
		detail := in.Scenario + " since " + in.Since.Format(time.RFC3339) + " " + strings.Join(args, " ")
		return answer(map[string]any{"examined": len(writes), "violations": violations, "detail": strings.TrimSpace(detail)})
	case "garbage":
		fmt.Fprintln(os.Stderr, "warning: schema v2")
		fmt.Println(`{"examined": 3, "violations": [], "verdict": "pass"}`)
		return 0
	case "exit":
		fmt.Fprintln(os.Stderr, "connecting to the ledger: connection refused")
		return 3
	case "sleep":
		time.Sleep(time.Minute)
		return 0
	case "settle":
		b, _ := os.ReadFile(args[0])
		n, _ := strconv.Atoi(string(b))
		n++
		if err := os.WriteFile(args[0], []byte(strconv.Itoa(n)), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		pending := max(0, 3-n)
		return answer(map[string]any{"pending": pending, "detail": fmt.Sprintf("%d transfers open", pending)})
	}
	fmt.Fprintln(os.Stderr, "unknown mode", mode)
	return 2
}

func answer(v any) int {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		return 2
	}
	return 0
}

// helper is the argv of the helper in mode, as YAML.
func helper(mode string, args ...string) string {
	argv := append([]string{os.Args[0], helperArg, mode}, args...)
	b, _ := json.Marshal(argv)
	return string(b)
}

// bankLab is a lab with one service, the invariants given (YAML mapping
// entries) and settle (a YAML flow mapping, "" for none).
func bankLab(t *testing.T, invariants []string, settle string) *lab.Lab {
	t.Helper()
	doc := `name: bank
services:
  ledger:
    protocol: http
    ports: {public: 7080, admin: 7081}
    local: {command: ./ledger}
    ready: {http: {port: public, path: /healthz}}
edges:
  client->ledger: {proxy_port: 7000}
load:
  scripts: k6
`
	if settle != "" {
		doc += "settle: " + settle + "\n"
	}
	if len(invariants) > 0 {
		doc += "invariants:\n"
		for _, inv := range invariants {
			doc += "  " + inv + "\n"
		}
	}
	builtins := lab.Builtins{Invariants: []string{"conserved", "no_overdraft"}, Settle: []string{"no_open_transfers"}}
	l, err := lab.Parse(filepath.Join(t.TempDir(), "lab.yaml"), []byte(doc), lab.WithBuiltins(builtins))
	require.NoError(t, err)
	return l
}

// newSet returns l's checks with b, run dir runDir.
func newSet(t *testing.T, l *lab.Lab, b Builtins, runDir string) *Set {
	t.Helper()
	vars := l.HarnessVarsFor(l.LocalPlacement(5, runDir, "bin", nil), "http://127.0.0.1:9090")
	s, err := New(l, vars, b)
	require.NoError(t, err)
	return s
}

var since = time.Date(2026, 12, 3, 10, 10, 10, 0, time.UTC)

// run is a run whose load acknowledged ids.
func run(ids ...string) lab.RunInput {
	in := lab.RunInput{RunID: "r1", Scenario: "ledger-blackhole", Since: since, Until: since.Add(time.Minute)}
	for i, id := range ids {
		in.Acked = append(in.Acked, lab.Write{ID: id, Key: fmt.Sprintf("k%d", i)})
	}
	return in
}

func TestCommandInvariant(t *testing.T) {
	tests := []struct {
		name    string
		command string
		timeout string
		in      lab.RunInput
		outcome string
		onData  bool
		value   float64
		detail  []string
	}{
		{
			name: "pass: the run on stdin, templates rendered", command: helper("verdict", `{{.Addr "ledger" "admin"}}`),
			in: run("t1", "t2"), outcome: journal.Pass, onData: true,
			detail: []string{"2 records examined, no violation (ledger-blackhole since 2026-12-03T10:10:10Z 127.0.0.1:7086) → pass"},
		},
		{
			name: "fail with violations", command: helper("verdict"),
			in: run("t1", "bad1", "t3", "bad2"), outcome: journal.Fail, onData: true, value: 2,
			detail: []string{"2 violations among 4 records examined: bad1: key k1 charged twice; bad2: key k3 charged twice (ledger-blackhole since"},
		},
		{
			name: "examined nothing is inconclusive", command: helper("verdict"),
			in: run(), outcome: journal.Inconclusive,
			detail: []string{"no record examined: nothing to check (ledger-blackhole since", "→ inconclusive"},
		},
		{
			name: "a verdict that does not decode", command: helper("garbage"),
			in: run("t1"), outcome: journal.Inconclusive,
			detail: []string{"command " + os.Args[0] + ": reading the verdict:", `unknown field "verdict"`, "stderr: warning: schema v2"},
		},
		{
			name: "a non-zero exit", command: helper("exit"),
			in: run("t1"), outcome: journal.Inconclusive,
			detail: []string{"exited with status 3; stderr: connecting to the ledger: connection refused"},
		},
		{
			name: "a timeout", command: helper("sleep"), timeout: "1s",
			in: run("t1"), outcome: journal.Inconclusive,
			detail: []string{"did not finish within its timeout of 1s: killed"},
		},
		{
			name: "a program that does not exist", command: `["./no-such-checker"]`,
			in: run("t1"), outcome: journal.Inconclusive,
			detail: []string{"command ./no-such-checker:", "no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := "books: {command: " + tt.command
			if tt.timeout != "" {
				inv += ", timeout: " + tt.timeout
			}
			l := bankLab(t, []string{inv + "}"}, "")
			start := time.Now()
			got := newSet(t, l, Builtins{}, t.TempDir()).Invariants(t.Context(), []string{"books"}, tt.in)
			require.Len(t, got, 1)
			c := got[0]
			assert.Equal(t, "books", c.Name)
			assert.Equal(t, journal.KindInvariant, c.Kind)
			assert.Equal(t, tt.outcome, c.Outcome, c.Detail)
			assert.Equal(t, tt.onData, c.OnData)
			for _, d := range tt.detail {
				assert.Contains(t, c.Detail, d)
			}
			if tt.onData {
				require.NotNil(t, c.Value)
				assert.Equal(t, tt.value, *c.Value)
			}
			assert.Less(t, time.Since(start), 10*time.Second, "a hung checker is killed at its timeout")
		})
	}
}

// requests records the requests a test server got.
type requests struct {
	mu  sync.Mutex
	got []*http.Request
}

func (r *requests) add(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, req)
}

func (r *requests) all() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.got...)
}

// verdictServer answers each POST with the verdict answer gives for the
// run it decodes, and records what it got.
func verdictServer(t *testing.T, answer func(w http.ResponseWriter, in lab.RunInput)) (*httptest.Server, *requests) {
	t.Helper()
	got := &requests{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.add(r.Clone(context.Background()))
		var in lab.RunInput
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer(w, in)
	}))
	srv.Start() // on 127.0.0.1:0
	t.Cleanup(srv.Close)
	return srv, got
}

func TestHTTPInvariant(t *testing.T) {
	tests := []struct {
		name    string
		timeout string
		answer  func(w http.ResponseWriter, in lab.RunInput)
		outcome string
		onData  bool
		detail  string
	}{
		{
			name: "pass",
			answer: func(w http.ResponseWriter, in lab.RunInput) {
				fmt.Fprintf(w, `{"examined": %d, "violations": [], "detail": "transfers of %s"}`, len(in.Acked), in.RunID)
			},
			outcome: journal.Pass, onData: true, detail: "2 records examined, no violation (transfers of r1) → pass",
		},
		{
			name: "fail with violations",
			answer: func(w http.ResponseWriter, in lab.RunInput) {
				fmt.Fprintf(w, `{"examined": 2, "violations": [{"id": %q, "detail": "lost"}]}`, in.Acked[1].ID)
			},
			outcome: journal.Fail, onData: true, detail: "1 violation among 2 records examined: t2: lost → fail",
		},
		{
			name:    "examined nothing is inconclusive",
			answer:  func(w http.ResponseWriter, _ lab.RunInput) { fmt.Fprint(w, `{"examined": 0, "violations": []}`) },
			outcome: journal.Inconclusive, detail: "no record examined: nothing to check → inconclusive",
		},
		{
			name:    "a verdict that does not decode",
			answer:  func(w http.ResponseWriter, _ lab.RunInput) { fmt.Fprint(w, `{"examined": 2}`) },
			outcome: journal.Inconclusive, detail: `"violations" is missing`,
		},
		{
			name: "an answer other than 200",
			answer: func(w http.ResponseWriter, _ lab.RunInput) {
				http.Error(w, "ledger down", http.StatusServiceUnavailable)
			},
			outcome: journal.Inconclusive, detail: `answered 503 Service Unavailable, not 200 OK: "ledger down"`,
		},
		{
			name: "a timeout", timeout: "1s",
			answer:  func(w http.ResponseWriter, _ lab.RunInput) { time.Sleep(3 * time.Second) },
			outcome: journal.Inconclusive, detail: "did not answer within its timeout of 1s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reqs := verdictServer(t, tt.answer)
			inv := "books: {http: '" + srv.URL + "/check?run={{.RunDir}}'"
			if tt.timeout != "" {
				inv += ", timeout: " + tt.timeout
			}
			l := bankLab(t, []string{inv + "}"}, "")
			got := newSet(t, l, Builtins{}, "/run/bank").Invariants(t.Context(), []string{"books"}, run("t1", "t2"))
			require.Len(t, got, 1)
			c := got[0]
			assert.Equal(t, tt.outcome, c.Outcome, c.Detail)
			assert.Equal(t, tt.onData, c.OnData)
			assert.Contains(t, c.Detail, tt.detail)
			assert.Equal(t, strings.Contains(tt.detail, "nothing to check"), c.NothingToExamine,
				"only a checker that examined nothing is marked so, not one that failed to answer")
			require.Len(t, reqs.all(), 1)
			r := reqs.all()[0]
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			assert.Equal(t, "/run/bank", r.URL.Query().Get("run"), "the URL is a harness template")
		})
	}
}

// builtinCalls records the calls of a BuiltinInvariants.
type builtinCalls struct{ names [][]string }

func (b *builtinCalls) check(ctx context.Context, names []string, in lab.RunInput) []journal.Check {
	b.names = append(b.names, names)
	var out []journal.Check
	for _, n := range names {
		if _, ok := ctx.Deadline(); !ok {
			out = append(out, journal.Check{Outcome: journal.Fail, Detail: "called without a deadline"})
			continue
		}
		out = append(out, journal.Check{Name: "renamed", Outcome: journal.Pass, OnData: true, Detail: fmt.Sprintf("%s over %d writes", n, len(in.Acked))})
	}
	return out
}

// Built-in invariants are evaluated in one call, and each check lands
// where the scenario listed it, among the external ones; a name the lab
// does not declare is inconclusive.
func TestInvariantsKeepTheScenariosOrder(t *testing.T) {
	l := bankLab(t, []string{
		"conserved: {builtin: conserved}",
		"no_overdraft: {builtin: no_overdraft, timeout: 2s}",
		"books: {command: " + helper("verdict") + "}",
	}, "")
	calls := &builtinCalls{}
	s := newSet(t, l, Builtins{Invariants: []string{"conserved", "no_overdraft"}, CheckInvariants: calls.check}, t.TempDir())

	got := s.Invariants(t.Context(), []string{"no_overdraft", "books", "balanced", "conserved"}, run("t1"))

	require.Len(t, got, 4)
	assert.Equal(t, [][]string{{"no_overdraft", "conserved"}}, calls.names, "the builtins, once, in the scenario's order")
	var names, outcomes []string
	for _, c := range got {
		names, outcomes = append(names, c.Name), append(outcomes, c.Outcome)
		assert.Equal(t, journal.KindInvariant, c.Kind)
	}
	assert.Equal(t, []string{"no_overdraft", "books", "balanced", "conserved"}, names)
	assert.Equal(t, []string{journal.Pass, journal.Pass, journal.Inconclusive, journal.Pass}, outcomes)
	assert.Equal(t, "no_overdraft over 1 writes", got[0].Detail)
	assert.Equal(t, `lab bank has no invariant "balanced"; it has: conserved, no_overdraft, books`, got[2].Detail)
}

func TestNewNeedsEveryBuiltinTheLabNames(t *testing.T) {
	l := bankLab(t, []string{"conserved: {builtin: conserved}"}, "{builtin: no_open_transfers}")
	vars := l.HarnessVarsFor(l.LocalPlacement(0, "/run", "bin", nil), "http://127.0.0.1:9090")
	_, err := New(l, vars, Builtins{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `settle: no built-in settle probe "no_open_transfers" is registered`)
	assert.Contains(t, err.Error(), `invariants.conserved: no built-in invariant "conserved" is registered`)

	b := Builtins{
		Invariants:      []string{"conserved"},
		CheckInvariants: (&builtinCalls{}).check,
		Settle:          map[string]SettleProbe{"no_open_transfers": func(context.Context) (lab.SettleStatus, error) { return lab.SettleStatus{}, nil }},
	}
	_, err = New(l, vars, b)
	require.NoError(t, err)
	assert.Equal(t, lab.Builtins{Invariants: []string{"conserved"}, Settle: []string{"no_open_transfers"}}, b.Names())
}

func TestVerdictCheckListsFiveViolations(t *testing.T) {
	v := lab.Verdict{Examined: 9, Detail: "9 transfers"}
	for i := range 7 {
		v.Violations = append(v.Violations, lab.Violation{ID: fmt.Sprintf("t%d", i)})
	}
	c := VerdictCheck("conserved", v)
	assert.Equal(t, journal.Fail, c.Outcome)
	assert.Equal(t, "7 violations among 9 records examined: t0; t1; t2; t3; t4 and 2 more (9 transfers) → fail", c.Detail)
	assert.Equal(t, 7.0, *c.Value)
}

// countingProbe answers pending for its first calls, then 0, or fails.
type countingProbe struct {
	calls, pendingCalls int
	err                 error
}

func (p *countingProbe) probe(ctx context.Context) (lab.SettleStatus, error) {
	p.calls++
	if _, ok := ctx.Deadline(); !ok {
		return lab.SettleStatus{}, errors.New("probed without a deadline")
	}
	if p.err != nil {
		return lab.SettleStatus{}, p.err
	}
	if p.calls <= p.pendingCalls {
		return lab.SettleStatus{Pending: 2, Detail: "2 store PENDING"}, nil
	}
	return lab.SettleStatus{}, nil
}

func TestSettleBuiltin(t *testing.T) {
	tests := []struct {
		name         string
		settle       string
		probe        countingProbe
		wantDone     bool
		wantPending  int
		wantCalls    int
		wantSentence string
	}{
		{"settled at once", "{builtin: no_open_transfers, timeout: 1s, interval: 50ms}", countingProbe{}, true, 0, 1, "settled after"},
		{"pending for two polls", "{builtin: no_open_transfers, timeout: 5s, interval: 50ms}", countingProbe{pendingCalls: 2}, true, 0, 3, "settled after"},
		{"still pending at the timeout", "{builtin: no_open_transfers, timeout: 1s, interval: 300ms}", countingProbe{pendingCalls: 1000}, false, 2, 5,
			"not settled after 1s: 2 pending (2 store PENDING)"},
		{"the probe never answers", "{builtin: no_open_transfers, timeout: 1s, interval: 300ms}", countingProbe{err: errors.New("store: connection refused")}, false, 0, 5,
			"not settled after 1s: the probe did not answer: store: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := bankLab(t, nil, tt.settle)
			p := &tt.probe
			s := newSet(t, l, Builtins{Settle: map[string]SettleProbe{"no_open_transfers": p.probe}}, t.TempDir())
			start := time.Now()
			got := s.Settle(t.Context())
			assert.True(t, got.Probed)
			assert.Equal(t, tt.wantDone, got.Done())
			assert.Equal(t, tt.wantPending, got.Pending)
			assert.Equal(t, tt.wantCalls, p.calls, "polls every interval, once more at the timeout")
			assert.Contains(t, got.String(), tt.wantSentence)
			assert.Less(t, time.Since(start), l.Settle.Timeout+500*time.Millisecond, "waits at most the timeout")
		})
	}
}

func TestNoSettleProbeDoesNotWait(t *testing.T) {
	l := bankLab(t, nil, "")
	got := newSet(t, l, Builtins{}, t.TempDir()).Settle(t.Context())
	assert.False(t, got.Probed)
	assert.True(t, got.Done())
	assert.Equal(t, "no settle probe: not waited", got.String())
}

// A command probe runs with the harness's templates until it answers 0.
func TestSettleCommand(t *testing.T) {
	runDir := t.TempDir()
	l := bankLab(t, nil, "{command: "+helper("settle", "{{.RunDir}}/polls")+", timeout: 10s, interval: 10ms}")
	got := newSet(t, l, Builtins{}, runDir).Settle(t.Context())
	assert.True(t, got.Done(), got.String())
	assert.Equal(t, "0 transfers open", got.Detail)
	polls, err := os.ReadFile(filepath.Join(runDir, "polls"))
	require.NoError(t, err)
	assert.Equal(t, "3", string(polls), "2, 1, then 0 pending")
}

func TestSettleCommandThatFails(t *testing.T) {
	l := bankLab(t, nil, "{command: "+helper("exit")+", timeout: 1s, interval: 400ms}")
	got := newSet(t, l, Builtins{}, t.TempDir()).Settle(t.Context())
	assert.False(t, got.Done())
	require.Error(t, got.Err)
	assert.Contains(t, got.Err.Error(), "exited with status 3; stderr: connecting to the ledger: connection refused")
}

func TestSettleHTTP(t *testing.T) {
	tests := []struct {
		name     string
		answers  []string
		status   int
		wantDone bool
		wantErr  string
	}{
		{name: "pending, then settled", answers: []string{`{"pending": 4}`, `{"pending": 1, "detail": "1 open"}`, `{"pending": 0}`}, status: http.StatusOK, wantDone: true},
		{name: "an answer that does not decode", answers: []string{`{"open": 0}`}, status: http.StatusOK, wantErr: `unknown field "open"`},
		{name: "an answer other than 200", answers: []string{`{"pending": 0}`}, status: http.StatusInternalServerError, wantErr: "answered 500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := &requests{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reqs.add(r.Clone(context.Background()))
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.answers[min(len(reqs.all()), len(tt.answers))-1])
			}))
			t.Cleanup(srv.Close)
			l := bankLab(t, nil, "{http: '"+srv.URL+"/pending', timeout: 1s, interval: 10ms}")
			got := newSet(t, l, Builtins{}, t.TempDir()).Settle(t.Context())
			assert.Equal(t, tt.wantDone, got.Done(), got.String())
			if tt.wantErr != "" {
				require.Error(t, got.Err)
				assert.Contains(t, got.Err.Error(), tt.wantErr)
				return
			}
			var methods []string
			for _, r := range reqs.all() {
				methods = append(methods, r.Method)
			}
			assert.Equal(t, []string{http.MethodGet, http.MethodGet, http.MethodGet}, methods)
		})
	}
}

// A lab file named by a relative path, whose invariant is a program given
// relative to the lab's root (bin/check), runs that program: it is
// resolved once, not against the root twice.
func TestCommandRelativeToARelativeLabRoot(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.MkdirAll(filepath.Join("team", "bin"), 0o755))
	self, err := os.Executable()
	require.NoError(t, err)
	require.NoError(t, os.Symlink(self, filepath.Join("team", "bin", "check")))
	doc := `name: team
services:
  ledger:
    protocol: http
    ports: {public: 7080}
    local: {command: ./ledger}
    ready: {http: {port: public, path: /healthz}}
edges:
  client->ledger: {proxy_port: 7000}
load: {scripts: .}
invariants:
  relative: {command: [bin/check, ` + helperArg + `, verdict]}
`
	l, err := lab.Parse(filepath.Join("team", "lab.yaml"), []byte(doc))
	require.NoError(t, err)
	got := newSet(t, l, Builtins{}, dir).Invariants(t.Context(), []string{"relative"}, run("t1"))
	require.Len(t, got, 1)
	assert.Equal(t, journal.Pass, got[0].Outcome, got[0].Detail)
}
