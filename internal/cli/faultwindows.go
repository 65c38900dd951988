package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/faultwindows"
)

// faultWindows wraps inj so that every fault window is published: the
// chaoslab_fault_active gauge served on addr (the lab's Prometheus scrapes
// it as job "chaoslab") and, when CHAOSLAB_GRAFANA_URL is set, Grafana
// region annotations (token: CHAOSLAB_GRAFANA_TOKEN). A port that cannot be
// bound costs the dashboards their fault windows, not the run: it is
// reported and the run goes on. stop shuts the listener down.
func faultWindows(ctx context.Context, env Env, inj *faults.Injector, addr string) (*faultwindows.Injector, func(), error) {
	reg := prometheus.NewRegistry()
	gauge, err := faultwindows.NewGauge(reg)
	if err != nil {
		return nil, nil, err
	}
	sinks := []faultwindows.Sink{gauge}
	if url := env.Getenv("CHAOSLAB_GRAFANA_URL"); url != "" {
		sinks = append(sinks, faultwindows.NewGrafana(url, env.Getenv("CHAOSLAB_GRAFANA_TOKEN"), nil, func(err error) {
			fmt.Fprintf(env.Stderr, "  ! %v\n", err)
		}))
		fmt.Fprintf(env.Stdout, "fault windows: Grafana annotations at %s\n", url)
	}
	stop := func() {}
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintf(env.Stderr, "fault windows: not serving %s on %s (the dashboards will miss them): %v\n", faultwindows.MetricName, addr, err)
		} else {
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			done := make(chan struct{})
			go func() {
				defer close(done)
				if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
					fmt.Fprintf(env.Stderr, "fault windows: %v\n", err)
				}
			}()
			stop = func() {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
				<-done
			}
		}
	}
	return faultwindows.Wrap(inj, sinks...), stop, nil
}
