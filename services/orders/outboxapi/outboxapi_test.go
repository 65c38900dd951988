package outboxapi

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

type backlog struct {
	n   int64
	err error
}

func (b backlog) Backlog(context.Context) (int64, error) { return b.n, b.err }

func TestBacklogOverARealListener(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  backlog
		want int64
		code codes.Code
	}{
		{"a backlog", backlog{n: 7}, 7, codes.OK},
		{"empty", backlog{}, 0, codes.OK},
		{"an error", backlog{err: status.Error(codes.Unavailable, "db down")}, 0, codes.Unavailable},
		{"a plain error", backlog{err: errors.New("boom")}, 0, codes.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			s := grpc.NewServer()
			Register(s, tc.srv)
			go s.Serve(ln)
			t.Cleanup(s.Stop)
			cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			require.NoError(t, err)
			t.Cleanup(func() { cc.Close() })
			n, err := NewClient(cc).OutboxBacklog(t.Context())
			assert.Equal(t, tc.code, status.Code(err))
			assert.Equal(t, tc.want, n)
		})
	}
}
