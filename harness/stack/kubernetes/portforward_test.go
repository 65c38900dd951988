package kubernetes

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// fakeKubelet is the one part of a kubelet that port-forwarding needs: the
// API server proxies pods/portforward to https://<node>:<port>/portForward/
// <namespace>/<pod>, and the kubelet answers with SPDY streams, a data and
// an error stream per forwarded connection. Each pod's ports are served by
// a backend address; kill cuts every connection to a pod, as its death
// would.
type fakeKubelet struct {
	mu       sync.Mutex
	backends map[string]string // "pod:port" (or "*:port") → address
	conns    map[string][]httpstream.Connection
	served   map[string]int // connections by port
}

func (k *fakeKubelet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "portForward" {
		http.NotFound(w, r)
		return
	}
	pod := parts[2]
	if _, err := httpstream.Handshake(r, w, []string{"portforward.k8s.io"}); err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, _ <-chan struct{}) error {
		streams <- s
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	k.mu.Lock()
	k.conns[pod] = append(k.conns[pod], conn)
	k.mu.Unlock()
	errorStreams := map[string]httpstream.Stream{}
	for {
		select {
		case s := <-streams:
			id := s.Headers().Get(corev1.PortForwardRequestIDHeader)
			switch s.Headers().Get(corev1.StreamType) {
			case corev1.StreamTypeError:
				errorStreams[id] = s
			case corev1.StreamTypeData:
				errStream := errorStreams[id]
				delete(errorStreams, id)
				go k.serveData(pod, s.Headers().Get(corev1.PortHeader), s, errStream)
			}
		case <-conn.CloseChan():
			return
		}
	}
}

func (k *fakeKubelet) serveData(pod, port string, data, errStream httpstream.Stream) {
	defer data.Close()
	if errStream != nil {
		defer errStream.Close()
	}
	k.mu.Lock()
	addr, ok := k.backends[pod+":"+port]
	if !ok {
		addr, ok = k.backends["*:"+port] // any pod's
	}
	if k.served == nil {
		k.served = map[string]int{}
	}
	k.served[port]++
	k.mu.Unlock()
	if !ok {
		if errStream != nil {
			fmt.Fprintf(errStream, "pod %s has no port %s", pod, port)
		}
		return
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, data); done <- struct{}{} }()
	go func() { _, _ = io.Copy(data, up); done <- struct{}{} }()
	<-done
}

// kill closes every connection to pod.
func (k *fakeKubelet) kill(pod string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.conns[pod] {
		c.Close()
	}
	delete(k.conns, pod)
}

// readyPodOn creates pod name with labels on node, ready, listening on
// port 7080 (named http).
func readyPodOn(t *testing.T, kube kubernetes.Interface, ns, name, node string, lbls map[string]string) {
	t.Helper()
	p, err := kube.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "echo", Image: "test/echo:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 7080}},
		}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	_, err = kube.CoreV1().Pods(ns).UpdateStatus(t.Context(), p, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestPortForwardThroughTheAPIServer forwards a local port through a real
// API server's pods/portforward (client-go's tools/portforward, SPDY or
// SPDY over WebSocket) to a pod behind a Service, and follows the Service
// to another pod when the first one dies.
func TestPortForwardThroughTheAPIServer(t *testing.T) {
	rc := cluster(t)
	kube := kubernetes.NewForConfigOrDie(rc)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ns := "forward"
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)

	// The pods' port: a server that says which pod answers.
	backend := func(pod string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s", pod) }))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	kubelet := &fakeKubelet{
		backends: map[string]string{"echo-a:7080": backend("echo-a"), "echo-b:7080": backend("echo-b"), "echo-c:7080": backend("echo-c")},
		conns:    map[string][]httpstream.Connection{},
	}
	ks := httptest.NewTLSServer(kubelet)
	t.Cleanup(ks.Close)
	_, portStr, err := net.SplitHostPort(ks.Listener.Addr().String())
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	node, err := kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	_, err = kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	require.NoError(t, err)

	sel := map[string]string{labelApp: "echo"}
	_, err = kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec:       corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Name: "http", Port: 7080, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	readyPodOn(t, kube, ns, "echo-a", "node-1", sel)

	c, err := connect(Config{REST: rc})
	require.NoError(t, err)
	local := freeAddr(t)
	fw, err := startForwards(Config{Namespace: ns}, c, []Forward{{Local: local, Service: "echo", Port: 7080}})
	require.NoError(t, err)
	t.Cleanup(fw.close)

	get := func() (string, error) {
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get("http://" + local + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	body, err := get()
	require.NoError(t, err)
	assert.Equal(t, "hello from echo-a", body)
	body, err = get()
	require.NoError(t, err)
	assert.Equal(t, "hello from echo-a", body, "a second connection through the same tunnel")

	// echo-a dies; its Deployment would start echo-b.
	require.NoError(t, kube.CoreV1().Pods(ns).Delete(ctx, "echo-a", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}))
	kubelet.kill("echo-a")
	readyPodOn(t, kube, ns, "echo-b", "node-1", sel)
	assert.Eventually(t, func() bool {
		body, err := get()
		return err == nil && body == "hello from echo-b"
	}, 20*time.Second, 100*time.Millisecond, "the forward follows the Service to its new pod")

	// A rollout replaces echo-b by echo-c; the stack forgets the tunnel to
	// its old pod (the kubelet keeps the connection: no lost connection
	// tells the forward).
	readyPodOn(t, kube, ns, "echo-c", "node-1", sel)
	require.NoError(t, kube.CoreV1().Pods(ns).Delete(ctx, "echo-b", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}))
	body, err = get()
	require.NoError(t, err)
	assert.Equal(t, "hello from echo-b", body, "the tunnel to echo-b is still open")
	fw.forget("echo")
	body, err = get()
	require.NoError(t, err)
	assert.Equal(t, "hello from echo-c", body, "a forgotten tunnel is opened again to a ready pod")

	_, _, err = podFor(ctx, c, ns, "nothing", 7080, "")
	assert.ErrorContains(t, err, `services "nothing" not found`)
}
