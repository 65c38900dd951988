package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Probe asks url once and returns nil when the component behind it is
// ready: how every component of a lab tells that it is. An http(s) URL is
// ready when a GET answers 200 OK; a grpc://host:port/<service> URL when
// the gRPC health service (grpc.health.v1) answers SERVING for <service>
// (the whole server when the path is empty), as GRPCHealthURL builds it.
func Probe(ctx context.Context, client *http.Client, url string) error {
	if rest, ok := strings.CutPrefix(url, grpcScheme); ok {
		addr, service, _ := strings.Cut(rest, "/")
		return probeGRPC(ctx, addr, service, client.Timeout)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// grpcScheme starts the readiness URL of a gRPC health check.
const grpcScheme = "grpc://"

// GRPCHealthURL is the readiness URL Probe checks with grpc.health.v1 at
// addr (host:port) for service ("": the whole server).
func GRPCHealthURL(addr, service string) string { return grpcScheme + addr + "/" + service }

// probeGRPC asks the gRPC health service at addr once, within timeout (0:
// a second).
func probeGRPC(ctx context.Context, addr, service string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("grpc health of %q at %s: %w", service, addr, err)
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpc health of %q at %s: %s", service, addr, st)
	}
	return nil
}

// WaitReady probes url every 20ms until it answers 200 OK. It gives up
// after timeout (the error names the URL and its last answer), when ctx
// ends, or as soon as gone — nil: never asked — returns an error (say, the
// process behind the URL exited), which it returns as is.
func WaitReady(ctx context.Context, url string, timeout time.Duration, gone func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	var last error // the last answer, for the error
	for {
		if gone != nil {
			if err := gone(); err != nil {
				return err
			}
		}
		err := Probe(ctx, client, url)
		if err == nil {
			return nil
		}
		// A probe cut short by the timeout says nothing about the URL: keep
		// the answer before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("not ready after %s (%s did not answer 200: %v)", timeout, url, last)
			}
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
