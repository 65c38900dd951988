package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// dialFunc opens a connection to fw's port of a pod behind its Kubernetes
// Service.
type dialFunc func(ctx context.Context, fw Forward) (net.Conn, error)

// forwards are the port-forwards of a lab: a listener on 127.0.0.1 per
// Forward, each accepted connection carried to a ready pod of its Service
// by dial. A connection is dialled when it is accepted, so that a pod
// deleted by a fault, or replaced by a rollout, is followed: the next
// connection goes to a pod that is there.
type forwards struct {
	dial   dialFunc
	cancel context.CancelFunc
	wg     sync.WaitGroup
	lns    []net.Listener
	tun    *tunnels
}

// startForwards listens on every Forward's local address.
func startForwards(cfg Config, c *clients, fws []Forward) (*forwards, error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &forwards{cancel: cancel, dial: cfg.dial}
	if f.dial == nil {
		f.tun = &tunnels{ctx: ctx, c: c, ns: cfg.Namespace, open: map[tunnelKey]*tunnel{}}
		f.dial = f.tun.dial
	}
	for _, fw := range fws {
		ln, err := net.Listen("tcp", fw.Local)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("port-forward of %s:%d: %w (another lab on these ports? shift them with -kube-port-offset)", fw.Service, fw.Port, err)
		}
		f.lns = append(f.lns, ln)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(ctx, ln, fw)
		}()
	}
	return f, nil
}

func (f *forwards) serve(ctx context.Context, ln net.Listener, fw Forward) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer conn.Close()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			up, err := f.dial(dctx, fw)
			cancel()
			if err != nil {
				return
			}
			defer up.Close()
			pipe(ctx, conn, up)
		}()
	}
}

// pipe copies both ways until one side ends or ctx is done.
func pipe(ctx context.Context, a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	select {
	case <-done:
		// Let the other direction drain what the closed side sent last.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	a.Close()
	b.Close()
}

// forget closes the tunnels to service's pods: the stack deleted or
// replaced them, and the next connection looks up a ready pod again.
func (f *forwards) forget(service string) {
	if f == nil || f.tun == nil {
		return
	}
	f.tun.mu.Lock()
	defer f.tun.mu.Unlock()
	for key, tn := range f.tun.open {
		if key.service == service {
			tn.cancel()
			delete(f.tun.open, key)
		}
	}
}

// close stops listening and ends every forwarded connection.
func (f *forwards) close() {
	f.cancel()
	for _, ln := range f.lns {
		ln.Close()
	}
	f.wg.Wait()
	if f.tun != nil {
		f.tun.wg.Wait()
	}
}

// tunnels are client-go port-forwards to pods (tools/portforward over
// SPDY, or SPDY over WebSocket where the API server offers it), one per pod
// and port, each on an ephemeral 127.0.0.1 port that the forwards dial.
type tunnels struct {
	ctx context.Context
	c   *clients
	ns  string

	mu   sync.Mutex
	open map[tunnelKey]*tunnel
	// wg counts the PortForwarders running.
	wg sync.WaitGroup
}

type tunnelKey struct {
	service, portName string
	port              int
}

type tunnel struct {
	pod    string
	addr   string
	done   chan struct{}
	cancel context.CancelFunc
}

// dial connects to fw's port of a ready pod of its Service, through a
// tunnel to that pod; a tunnel whose pod is gone is replaced by one to
// another pod.
func (t *tunnels) dial(ctx context.Context, fw Forward) (net.Conn, error) {
	key := tunnelKey{fw.Service, fw.PortName, fw.Port}
	var lastErr error
	for range 2 {
		tn, err := t.get(ctx, key)
		if err != nil {
			return nil, err
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", tn.addr)
		if err == nil {
			return conn, nil
		}
		lastErr = err
		t.drop(key, tn)
	}
	return nil, lastErr
}

func (t *tunnels) drop(key tunnelKey, tn *tunnel) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open[key] == tn {
		delete(t.open, key)
	}
}

// get returns the open tunnel of key, or opens one.
func (t *tunnels) get(ctx context.Context, key tunnelKey) (*tunnel, error) {
	t.mu.Lock()
	tn := t.open[key]
	t.mu.Unlock()
	if tn != nil {
		select {
		case <-tn.done:
			t.drop(key, tn)
		default:
			return tn, nil
		}
	}
	pod, podPort, err := podFor(ctx, t.c, t.ns, key.service, key.port, key.portName)
	if err != nil {
		return nil, err
	}
	tn, err = t.openTunnel(ctx, pod, podPort)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.open[key] = tn
	t.mu.Unlock()
	return tn, nil
}

// openTunnel starts a client-go PortForwarder from an ephemeral port of
// 127.0.0.1 to port of pod, and returns once it listens.
func (t *tunnels) openTunnel(ctx context.Context, pod string, port int) (*tunnel, error) {
	req := t.c.kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(t.ns).Name(pod).SubResource("portforward")
	transport, upgrader, err := spdy.RoundTripperFor(t.c.rest)
	if err != nil {
		return nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, req.URL())
	if ws, err := portforward.NewSPDYOverWebsocketDialer(req.URL(), t.c.rest); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	// The tunnel lives as long as the lab's forwards, not the first caller.
	tctx, cancel := context.WithCancel(t.ctx)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(tctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, io.Discard, io.Discard)
	if err != nil {
		cancel()
		return nil, err
	}
	tn := &tunnel{pod: pod, done: make(chan struct{}), cancel: cancel}
	errc := make(chan error, 1)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer close(tn.done)
		defer cancel()
		errc <- pf.ForwardPorts()
	}()
	select {
	case <-ready:
	case err := <-errc:
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d: %w", t.ns, pod, port, err)
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d: no local port (%v)", t.ns, pod, port, err)
	}
	tn.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
	return tn, nil
}

// podFor returns a ready pod behind the Kubernetes Service named service
// and the container port that the Service's port number port targets, or
// else its port named portName ("": none), or else port itself (the admin
// API is on no Service).
func podFor(ctx context.Context, c *clients, ns, service string, port int, portName string) (string, int, error) {
	svc, err := c.kube.CoreV1().Services(ns).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("port-forward to %s: %w", service, err)
	}
	if len(svc.Spec.Selector) == 0 {
		return "", 0, fmt.Errorf("port-forward to %s: its Service selects no pods", service)
	}
	pods, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return "", 0, fmt.Errorf("port-forward to %s: %w", service, err)
	}
	pod := readyPod(pods.Items)
	if pod == nil {
		return "", 0, fmt.Errorf("port-forward to %s: none of its %d pods is ready", service, len(pods.Items))
	}
	target := intstr.FromInt32(int32(port))
	var byNumber, byName *corev1.ServicePort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if int(sp.Port) == port {
			byNumber = sp
		}
		if portName != "" && sp.Name == portName {
			byName = sp
		}
	}
	if sp := cmp.Or(byNumber, byName); sp != nil {
		target = sp.TargetPort
		if target == (intstr.IntOrString{}) {
			target = intstr.FromInt32(sp.Port)
		}
	}
	if target.Type == intstr.Int {
		return pod.Name, target.IntValue(), nil
	}
	for _, ctr := range pod.Spec.Containers {
		for _, cp := range ctr.Ports {
			if cp.Name == target.StrVal {
				return pod.Name, int(cp.ContainerPort), nil
			}
		}
	}
	return "", 0, fmt.Errorf("port-forward to %s: pod %s has no port named %q", service, pod.Name, target.StrVal)
}

// readyPod is a running, ready pod of pods that is not being deleted.
func readyPod(pods []corev1.Pod) *corev1.Pod {
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return p
			}
		}
	}
	return nil
}
