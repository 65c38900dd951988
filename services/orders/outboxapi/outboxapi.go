// Package outboxapi is orders' read-only gRPC view of its outbox: how many
// OrderConfirmed events wait to be published. The lab's settle probe and
// its outbox_drained invariant ask it. It is written by hand (one unary
// method on well-known types, google.protobuf.Empty → Int64Value) rather
// than generated, so it needs no .proto of its own.
package outboxapi

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ServiceName is the gRPC service's full name.
const ServiceName = "chaoslab.orders.Outbox"

// BacklogMethod is the full method name of Backlog.
const BacklogMethod = "/" + ServiceName + "/Backlog"

// Server answers Backlog.
type Server interface {
	// Backlog counts the events in the outbox.
	Backlog(ctx context.Context) (int64, error)
}

// Register registers srv on s.
func Register(s grpc.ServiceRegistrar, srv Server) {
	s.RegisterService(&serviceDesc, srv)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*Server)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Backlog", Handler: backlogHandler}},
	Metadata:    "services/orders/outboxapi/outboxapi.go",
}

func backlogHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(emptypb.Empty)
	if err := dec(in); err != nil {
		return nil, err
	}
	call := func(ctx context.Context, _ any) (any, error) {
		n, err := srv.(Server).Backlog(ctx)
		if err != nil {
			return nil, err
		}
		return wrapperspb.Int64(n), nil
	}
	if interceptor == nil {
		return call(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: BacklogMethod}, call)
}

// Client calls the Outbox service.
type Client struct{ cc grpc.ClientConnInterface }

// NewClient returns a client on cc.
func NewClient(cc grpc.ClientConnInterface) *Client { return &Client{cc: cc} }

// OutboxBacklog counts the events in orders' outbox.
func (c *Client) OutboxBacklog(ctx context.Context) (int64, error) {
	out := new(wrapperspb.Int64Value)
	if err := c.cc.Invoke(ctx, BacklogMethod, &emptypb.Empty{}, out); err != nil {
		return 0, err
	}
	return out.GetValue(), nil
}
