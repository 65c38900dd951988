package faultinject

import (
	"context"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// UnaryServerInterceptor returns the unary server interceptor that applies
// the faults to gRPC requests, matched by full method name. A latency fault
// cancelled by the caller fails with the context's status (CANCELLED or
// DEADLINE_EXCEEDED); an error fault fails with its code and the message
// "injected fault <id>"; an abort closes the TCP connection that carried the
// request, which the client sees as UNAVAILABLE, like the other requests in
// flight on that HTTP/2 connection (for that, serve from Listener; on an
// untracked connection the request fails with UNAVAILABLE "aborted").
func (in *Injector) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		s := in.rules.Load()
		if s == nil {
			return handler(ctx, req)
		}
		r := s.grpc.pick(info.FullMethod, in.float)
		if r == nil {
			return handler(ctx, req)
		}
		if err := in.delay(ctx, info.FullMethod, r); err != nil {
			return nil, status.FromContextError(err).Err()
		}
		switch {
		case r.abort:
			in.note(ctx, info.FullMethod, r, kindAbort)
			in.conns.closeConnOf(ctx)
			return nil, status.Error(codes.Unavailable, "aborted")
		case r.code != codes.OK:
			in.note(ctx, info.FullMethod, r, kindError)
			return nil, status.Error(r.code, "injected fault "+r.id)
		}
		return handler(ctx, req)
	}
}

// Listener wraps the listener of the gRPC server so that abort faults can
// close the connection of a request.
func (in *Injector) Listener(l net.Listener) net.Listener {
	return &trackingListener{Listener: l, conns: in.conns}
}

// connKey identifies a TCP connection by its two ends.
type connKey struct {
	local, remote string
}

// connTracker knows the open connections accepted by the Listeners.
type connTracker struct {
	mu    sync.Mutex
	conns map[connKey]net.Conn
}

func newConnTracker() *connTracker {
	return &connTracker{conns: map[connKey]net.Conn{}}
}

// closeConnOf closes the connection of the gRPC request of ctx and reports
// whether it was tracked.
func (t *connTracker) closeConnOf(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil || p.LocalAddr == nil {
		return false
	}
	t.mu.Lock()
	c := t.conns[connKey{local: p.LocalAddr.String(), remote: p.Addr.String()}]
	t.mu.Unlock()
	if c == nil {
		return false
	}
	_ = c.Close()
	return true
}

// trackingListener tracks the connections it accepts until they close.
type trackingListener struct {
	net.Listener
	conns *connTracker
}

// Accept accepts a connection and tracks it.
func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, tracker: l.conns, key: connKey{local: c.LocalAddr().String(), remote: c.RemoteAddr().String()}}
	l.conns.mu.Lock()
	l.conns.conns[tc.key] = tc
	l.conns.mu.Unlock()
	return tc, nil
}

// trackedConn forgets itself when closed.
type trackedConn struct {
	net.Conn
	tracker *connTracker
	key     connKey
	once    sync.Once
}

// Close closes the connection and stops tracking it.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.tracker.mu.Lock()
		if c.tracker.conns[c.key] == c {
			delete(c.tracker.conns, c.key)
		}
		c.tracker.mu.Unlock()
	})
	return c.Conn.Close()
}
