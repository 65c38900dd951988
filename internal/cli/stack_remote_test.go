package cli

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack/local"
	"github.com/chaoslab/chaoslab/harness/stack/remote"
)

// closedAddr is an address on 127.0.0.1 where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// shopRemoteFile writes a remote file of the shop whose endpoints do not
// answer; edit changes it first. Nothing here is probed unless the scenarios
// pass the capability check.
func shopRemoteFile(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	a := "http://" + closedAddr(t)
	doc := fmt.Sprintf(`lab: shop
entry: %[1]s
prometheus: %[1]s
jaeger: {query_grpc: %[2]q, query_http: %[1]s}
toxiproxy: %[1]s
auth: {key_file: jwt.key}
services:
  gateway: {metrics: %[1]s/metrics, ready: %[1]s/readyz, admin: %[1]s}
  orders: {metrics: %[1]s/metrics, ready: %[1]s/readyz, admin: %[1]s}
  inventory: {metrics: %[1]s/metrics, ready: %[1]s/readyz, admin: %[1]s, instances: {inventory-0: {admin: %[1]s}, inventory-1: {admin: %[1]s}}}
  payments: {metrics: %[1]s/metrics, ready: %[1]s/readyz, admin: %[1]s, instances: {payments-0: {admin: %[1]s}, payments-1: {admin: %[1]s}}}
  issuer: {metrics: %[1]s/metrics, ready: %[1]s/readyz, admin: %[1]s}
  nats: {metrics: %[1]s/metrics, ready: %[1]s/readyz}
  registry: {metrics: %[1]s/metrics, ready: %[1]s/health}
  shipping: {metrics: %[1]s/metrics, ready: %[1]s/readyz, admin: %[1]s}
edges:
  client->gateway: {proxy: client_to_gateway}
  gateway->orders: {proxy: gateway_to_orders}
  gateway->inventory: {proxy: gateway_to_inventory, replica_proxies: [gateway_to_inventory-1]}
  gateway->issuer: {proxy: gateway_to_issuer}
  orders->inventory: {proxy: orders_to_inventory, replica_proxies: [orders_to_inventory-1]}
  orders->payments: {proxy: orders_to_payments, replica_proxies: [orders_to_payments-1]}
  orders->nats: {proxy: orders_to_nats}
  shipping->nats: {proxy: shipping_to_nats}
  gateway->registry: {proxy: gateway_to_registry}
  orders->registry: {proxy: orders_to_registry}
  inventory->registry: {proxy: inventory_to_registry}
  payments->registry: {proxy: payments_to_registry}
`, a, strings.TrimPrefix(a, "http://"))
	if edit != nil {
		doc = edit(doc)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwt.key"), []byte("k"), 0o600))
	path := filepath.Join(dir, "remote.yaml")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
	return path
}

func TestRemoteStackRefusesWhatItCannotApply(t *testing.T) {
	lib := filepath.Join("..", "..", "scenarios")
	sc := func(name string) string { return filepath.Join(lib, name+".yaml") }
	const allowed = "; allowed: network faults (Toxiproxy), request faults (admin APIs)"
	const owns = "it owns no process of the lab (only the local and compose stacks do)"
	noToxiproxy := func(doc string) string {
		doc = doc[:strings.Index(doc, "edges:")]
		return doc[:strings.Index(doc, "toxiproxy:")] + doc[strings.Index(doc, "auth:"):]
	}
	noPaymentsAdmin := func(doc string) string {
		i := strings.Index(doc, "  payments:")
		j := i + strings.Index(doc[i:], ", admin:")
		return doc[:j] + "}\n" + doc[i+strings.Index(doc[i:], "\n")+1:]
	}
	tests := []struct {
		name     string
		edit     func(string) string
		args     []string
		wantCode exitcode.Code
		want     []string // in stderr
		wantOut  []string // in stdout
	}{
		{name: "a process fault", args: []string{sc("orders-kill9")}, wantCode: exitcode.Usage, want: []string{
			"the remote stack cannot run these scenarios, nothing was run:",
			sc("orders-kill9") + ":22:9: phases[1].faults[0].process: stack remote cannot apply process faults: " + owns + allowed,
		}},
		{name: "a knob that restarts a service", args: []string{sc("payments-errors-10pct-no-retries")}, wantCode: exitcode.Usage, want: []string{
			sc("payments-errors-10pct-no-retries") + ":11:14: services.orders.retries: stack remote cannot restart orders with knob retries=false (the lab's default: true): " +
				owns + ": write only the lab's defaults, or run the scenario on another stack" + allowed,
		}},
		{name: "a network fault without Toxiproxy", edit: noToxiproxy, args: []string{sc("products-slicer")}, wantCode: exitcode.Usage, want: []string{
			sc("products-slicer") + ":19:9: phases[1].faults[0].network: stack remote cannot apply network faults: remote.yaml gives no toxiproxy URL; allowed: request faults (admin APIs)",
		}},
		{name: "a request fault on a service without an admin URL", edit: noPaymentsAdmin, args: []string{sc("payments-errors-10pct")}, wantCode: exitcode.Usage, want: []string{
			sc("payments-errors-10pct") + ":26:9: phases[1].faults[0].request: stack remote cannot apply request faults to payments: remote.yaml gives it no admin URL (services.payments.admin)" + allowed,
		}},
		{name: "-scenario names one too", args: []string{"-scenarios", lib, "-scenario", "orders-kill9"}, wantCode: exitcode.Usage, want: []string{
			sc("orders-kill9") + ":22:9: phases[1].faults[0].process: stack remote cannot apply process faults",
		}},
		// From a directory, those it cannot run are left out; the rest
		// run on the lab, which does not answer here.
		{name: "a directory: left out, named", args: []string{lib}, wantCode: exitcode.Infra,
			wantOut: []string{
				"not on the remote stack: orders-kill9 (" + sc("orders-kill9") + ":22:9: phases[1].faults[0].process: stack remote cannot apply process faults",
				"not on the remote stack: payments-errors-10pct-no-retries (" + sc("payments-errors-10pct-no-retries") + ":11:14: services.orders.retries",
				"not on the remote stack: payments-disconnect (runs on compose)",
			},
			want: []string{"endpoints do not answer as they should", "prometheus               ready"}},
		{name: "no remote file", args: []string{sc("latency-payments")}, wantCode: exitcode.Usage, want: []string{"-stack remote needs -remote FILE"}},
		{name: "an invalid remote file", edit: func(doc string) string { return strings.Replace(doc, "lab: shop", "lab: bookings", 1) },
			args: []string{sc("latency-payments")}, wantCode: exitcode.Usage, want: []string{
				"invalid remote endpoints file, nothing was run:",
				`remote.yaml:1:6: lab: the file describes lab "bookings", but the lab file ../../labs/shop/lab.yaml is lab "shop"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"run", "-stack", "remote", "-lab", libraryLab, "-remote-run-dir", t.TempDir(), "-reports", t.TempDir()}
			if tt.name != "no remote file" {
				args = append(args, "-remote", shopRemoteFile(t, tt.edit))
			}
			env, out, errOut := testEnv(nil)
			code := Run(t.Context(), env, append(args, tt.args...))
			assert.Equal(t, tt.wantCode, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			for _, w := range tt.want {
				assert.Contains(t, errOut.String(), w)
			}
			for _, w := range tt.wantOut {
				assert.Contains(t, out.String(), w)
			}
			assert.NotContains(t, out.String(), "running ", "no scenario ran")
		})
	}
}

// On the local and compose stacks the same scenarios pass the check.
func TestLocalAndComposeApplyEveryKind(t *testing.T) {
	lf, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	for _, p := range []provider{newLocalStack(new(string)), newComposeStack()} {
		t.Run(p.Name(), func(t *testing.T) {
			o := &labOptions{p: p}
			sf := suiteFlags{labFile: libraryLab, repeat: 1}
			scs, _, _, err := sf.selectScenarios([]string{filepath.Join("..", "..", "scenarios", "orders-kill9.yaml"),
				filepath.Join("..", "..", "scenarios", "payments-errors-10pct-no-retries.yaml")})
			require.NoError(t, err)
			env, _, _ := testEnv(nil)
			got, err := o.forCapabilities(env, scs, lf, func(*scenario.Scenario) bool { return true })
			require.NoError(t, err)
			assert.Len(t, got, 2)
		})
	}
}

// remote-file writes what a running local lab's state says, as a file
// the remote stack loads against the same lab file.
func TestRemoteFileOfARunningLocalLab(t *testing.T) {
	lf, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	dir := t.TempDir()
	key := filepath.Join(dir, "jwt.key")
	require.NoError(t, os.WriteFile(key, []byte("k"), 0o600))
	e := local.EndpointsFor(lf, local.PortsFor(lf, 300), key)
	self := local.Proc{Name: "payments", PID: os.Getpid()} // stands for the lab
	writeState(t, local.State{StartedAt: time.Now(), RunDir: dir, Procs: []local.Proc{self}, Endpoints: e})

	out := filepath.Join(t.TempDir(), "remote.yaml")
	env, stdout, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"remote-file", "-lab", libraryLab, "-run-dir", dir, "-o", out})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Contains(t, stdout.String(), "wrote "+out)

	f, err := remote.LoadFile(out, lf)
	require.NoError(t, err)
	assert.Equal(t, "shop", f.Lab)
	assert.Equal(t, e.GatewayURL, f.Entry)
	assert.Equal(t, e.ToxiproxyURL, f.Toxiproxy)
	assert.Equal(t, key, f.KeyFile)
	assert.Equal(t, e.Services["payments"].AdminURL, f.Services["payments"].Admin)
	assert.Equal(t, "orders_to_payments", f.Proxies["orders->payments"])
	assert.Len(t, f.Proxies, len(lf.Edges))

	env, _, errOut = testEnv(nil)
	assert.Equal(t, exitcode.Usage, Run(t.Context(), env, []string{"remote-file", "-stack", "remote"}), errOut.String())
	env, _, errOut = testEnv(nil)
	assert.Equal(t, exitcode.Infra, Run(t.Context(), env, []string{"remote-file", "-lab", libraryLab, "-run-dir", t.TempDir()}))
	assert.Contains(t, errOut.String(), "no lab in")
}

// The remote stack's other commands: an invalid file is exit 2 wherever
// it is read, endpoints that do not answer exit 4.
func TestRemoteStackCommands(t *testing.T) {
	invalid := func(doc string) string { return strings.Replace(doc, "lab: shop", "lab: shop\nregion: eu", 1) }
	tests := []struct {
		name     string
		args     []string
		edit     func(string) string
		wantCode exitcode.Code
		want     string
	}{
		{name: "up, invalid file", args: []string{"up"}, edit: invalid, wantCode: exitcode.Usage, want: "remote.yaml:2:1: region: unknown field"},
		{name: "status, invalid file", args: []string{"status"}, edit: invalid, wantCode: exitcode.Usage, want: "remote.yaml:2:1: region: unknown field"},
		{name: "clean, invalid file", args: []string{"clean"}, edit: invalid, wantCode: exitcode.Usage, want: "remote.yaml:2:1: region: unknown field"},
		{name: "down, invalid file", args: []string{"down"}, edit: invalid, wantCode: exitcode.Usage, want: "remote.yaml:2:1: region: unknown field"},
		{name: "up, nothing answers", args: []string{"up"}, wantCode: exitcode.Infra, want: "27 of 27 endpoints do not answer as they should"},
		{name: "status, nothing answers", args: []string{"status"}, wantCode: exitcode.Infra, want: "27 of 27 endpoints do not answer as they should"},
		{name: "down cannot sweep a Toxiproxy that does not answer", args: []string{"down"}, wantCode: exitcode.Infra, want: "listing Toxiproxy proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "-stack", "remote", "-remote", shopRemoteFile(t, tt.edit), "-remote-run-dir", t.TempDir())
			if tt.args[0] == "up" {
				args = append(args, "-lab", libraryLab)
			}
			env, out, errOut := testEnv(nil)
			code := Run(t.Context(), env, args)
			assert.Equal(t, tt.wantCode, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			assert.Contains(t, errOut.String(), tt.want)
		})
	}
}

func TestCodeOfKeepsTheInnermostCode(t *testing.T) {
	inner := usageErr("bad file")
	assert.Equal(t, exitcode.Usage, codeOf(&exitError{code: exitcode.Infra, err: fmt.Errorf("starting: %w", inner)}))
	assert.Equal(t, exitcode.Infra, codeOf(&exitError{code: exitcode.Infra, err: fmt.Errorf("plain")}))
	assert.Equal(t, exitcode.Infra, codeOf(fmt.Errorf("no code")))
	assert.Equal(t, exitcode.Inconclusive, codeOf(fmt.Errorf("wrapped: %w", &exitError{code: exitcode.Inconclusive, err: fmt.Errorf("x")})))
}
