package faults_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// testdata/ledger-v1.jsonl was written by the injector before a fault
// became an interface (one fault of each kind and shape, intent then
// applied; the down fault removed). A runner that crashed with it must
// still be rolled back by this code.
const ledgerV1 = "testdata/ledger-v1.jsonl"

// Each record of the old ledger decodes and encodes again to the same
// bytes: the envelope (Spec) and its kinds kept their JSON.
func TestLedgerV1RecordsKeepTheirBytes(t *testing.T) {
	b, err := os.ReadFile(ledgerV1)
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		var r faults.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "line %d", n)
		out, err := json.Marshal(r)
		require.NoError(t, err)
		assert.Equal(t, sc.Text(), string(out), "line %d", n)
		if r.Fault != nil {
			require.NoError(t, r.Fault.Spec.Validate(faults.FixtureTopology()), "line %d", n)
		}
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, 15, n)
}

// A lab left as the old ledger describes it is rolled back whole.
func TestLedgerV1RollsBack(t *testing.T) {
	lab, env := newTestLab(t, true)
	cs := newFakeContainers()
	env.Containers = cs
	ctx := t.Context()

	// The lab as the crashed runner left it.
	require.NoError(t, lab.tp.AddToxic(ctx, "store_to_ledger", toxiproxy.Toxic{Name: "chaoslab-f-1764511323123456789-1",
		Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 200, "jitter": 50}}))
	require.NoError(t, lab.procs.Signal(ctx, svcStore, syscall.SIGKILL))
	require.NoError(t, lab.procs.Signal(ctx, svcCache, syscall.SIGSTOP))
	_, err := faultinject.NewClient(lab.admin[svcLedger], nil).Set(ctx, faultinject.Fault{ID: "chaoslab-f-1764511323123456789-5",
		Method: "/ledger.v1.LedgerService/Debit", GRPCCode: "UNAVAILABLE", Probability: 0.1})
	require.NoError(t, err)
	_, err = faultinject.NewClient(lab.admin[svcAPI], nil).Set(ctx, faultinject.Fault{ID: "chaoslab-f-1764511323123456789-6",
		Method: "*", HTTPStatus: 503, Probability: 1})
	require.NoError(t, err)
	cs.set(svcLedger, "running", false)

	b, err := os.ReadFile(ledgerV1)
	require.NoError(t, err)
	path := faults.LedgerPath(t.TempDir())
	require.NoError(t, os.WriteFile(path, b, 0o644))
	ledger, err := faults.OpenLedger(path)
	require.NoError(t, err)
	t.Cleanup(func() { ledger.Close() })

	rb, err := faults.NewInjector(env, ledger).RollbackPending(ctx)
	require.NoError(t, err)
	var got []string
	for _, a := range rb.Faults {
		got = append(got, a.ID+" "+a.Spec.String())
	}
	assert.Equal(t, []string{
		"f-1764511323123456789-7 container ledger disconnect",
		"f-1764511323123456789-6 request api * http_status=503 probability=1",
		"f-1764511323123456789-5 request ledger /ledger.v1.LedgerService/Debit latency=20ms grpc_code=UNAVAILABLE probability=0.1",
		"f-1764511323123456789-4 process cache pause",
		"f-1764511323123456789-3 process store kill restart_after=3s",
		"f-1764511323123456789-1 network store->ledger latency stream=downstream toxicity=1 jitter=50 latency=200",
	}, got, "every pending fault, newest first")
	assert.Empty(t, rb.Knobs)

	assert.Empty(t, lab.toxics(t))
	assert.Empty(t, lab.disabled(t))
	assert.Empty(t, lab.requestFaults())
	for _, svc := range startOrder() {
		running, paused := lab.procs.state(svc)
		assert.True(t, running, svc)
		assert.False(t, paused, svc)
	}
	assert.True(t, cs.healthy(), "the container is connected again")
	pending, err := ledger.Pending()
	require.NoError(t, err)
	assert.Empty(t, pending)
}
