package grpcclient_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/connectivity"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/grpcclient"
)

// TestDialDropsAConnectionThatWentSilent: a dependency that vanishes
// without closing its connection (a network cut; here a proxy that stops
// forwarding and keeps both sockets open) leaves the connection READY for
// as long as TCP keeps it. The client's keepalive ping goes unanswered and
// the client drops the connection within KeepaliveTime + KeepaliveTimeout.
// (grpc-go pings no more often than every 10 s: this test takes ~12 s.)
func TestDialDropsAConnectionThatWentSilent(t *testing.T) {
	t.Parallel()
	p := newFreezingProxy(t, serve(t, &fakePayments{}))
	cc, err := grpcclient.Dial(options(p.addr, nil, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	_, err = paymentsv1.NewPaymentsServiceClient(cc).Charge(t.Context(), &paymentsv1.ChargeRequest{IdempotencyKey: "k"})
	require.NoError(t, err)
	// grpc-go hands the READY connection to calls before it reports READY
	// (the picker is updated first), so a call can finish while the channel
	// still says CONNECTING: wait for the report.
	readyCtx, readyCancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer readyCancel()
	for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
		require.True(t, cc.WaitForStateChange(readyCtx, s), "the connection served a call but is still %s", s)
	}

	p.freeze()
	start := time.Now()
	limit := grpcclient.KeepaliveTime + grpcclient.KeepaliveTimeout + 3*time.Second
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	for cc.GetState() == connectivity.Ready {
		require.True(t, cc.WaitForStateChange(ctx, connectivity.Ready),
			"the connection is still READY %s after its peer went silent", limit)
	}
	took := time.Since(start)
	t.Logf("dropped %s after the peer went silent (now %s)", took.Round(10*time.Millisecond), cc.GetState())
	assert.GreaterOrEqual(t, took, grpcclient.KeepaliveTimeout, "dropped by the unanswered ping, not by anything else")
}

// freezingProxy forwards TCP connections to a target until freeze, after
// which it forwards nothing more but keeps every connection open.
type freezingProxy struct {
	addr   string
	frozen chan struct{}
	once   sync.Once
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &freezingProxy{addr: lis.Addr().String(), frozen: make(chan struct{})}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		_ = lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			in, err := lis.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go p.pipe(out, in)
			go p.pipe(in, out)
		}
	}()
	return p
}

// pipe copies from src to dst until either closes; once frozen, what it
// reads goes nowhere.
func (p *freezingProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-p.frozen:
			continue
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *freezingProxy) freeze() { p.once.Do(func() { close(p.frozen) }) }
