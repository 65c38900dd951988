package remote

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/stack"
)

// FromEndpoints returns the remote file that presents the running lab e —
// a local or compose lab — to the remote stack: its URLs, the Toxiproxy
// proxy of every edge, its hs256-jwt key file. It describes a lab without
// admin tokens (the local and compose labs bind the admin APIs to
// loopback).
func FromEndpoints(e stack.Endpoints) *File {
	f := &File{
		Lab: e.Lab, Entry: e.GatewayURL, Prometheus: e.PrometheusURL,
		JaegerQueryGRPC: e.JaegerQueryGRPC, JaegerQueryURL: e.JaegerQueryURL,
		Toxiproxy: e.ToxiproxyURL, KeyFile: e.JWTKeyFile,
		Services: map[string]Service{}, Proxies: map[string]string{},
	}
	names := e.ServiceOrder
	if len(names) == 0 {
		for name := range e.Services {
			names = append(names, name)
		}
	}
	for _, name := range names {
		s := e.Services[name]
		svc := Service{Addr: s.Addr, Metrics: s.MetricsURL, Ready: s.ReadyURL, Admin: s.AdminURL}
		for _, i := range s.Instances {
			svc.Instances = append(svc.Instances, Instance{Name: i.Name, Admin: i.AdminURL})
		}
		f.Services[name] = svc
		f.ServiceNames = append(f.ServiceNames, name)
	}
	for name, edge := range e.Edges {
		f.Proxies[name] = edge.Proxy
		for _, r := range edge.Replicas {
			if f.ReplicaProxies == nil {
				f.ReplicaProxies = map[string][]string{}
			}
			f.ReplicaProxies[name] = append(f.ReplicaProxies[name], r.Proxy)
		}
	}
	return f
}

// The YAML shapes of a remote file, for Marshal (LoadFile reads nodes).
type (
	fileYAML struct {
		Lab        string                 `yaml:"lab"`
		Entry      string                 `yaml:"entry"`
		Prometheus string                 `yaml:"prometheus"`
		Jaeger     jaegerYAML             `yaml:"jaeger"`
		Toxiproxy  string                 `yaml:"toxiproxy,omitempty"`
		Auth       *authYAML              `yaml:"auth,omitempty"`
		Services   map[string]serviceYAML `yaml:"services"`
		Edges      map[string]edgeYAML    `yaml:"edges,omitempty"`
	}
	jaegerYAML struct {
		QueryGRPC string `yaml:"query_grpc"`
		QueryHTTP string `yaml:"query_http"`
	}
	authYAML struct {
		KeyFile string `yaml:"key_file"`
	}
	serviceYAML struct {
		Addr       string                  `yaml:"addr,omitempty"`
		Metrics    string                  `yaml:"metrics,omitempty"`
		Ready      string                  `yaml:"ready"`
		Admin      string                  `yaml:"admin,omitempty"`
		AdminToken string                  `yaml:"admin_token,omitempty"`
		Instances  map[string]instanceYAML `yaml:"instances,omitempty"`
	}
	instanceYAML struct {
		Admin string `yaml:"admin"`
	}
	edgeYAML struct {
		Proxy          string   `yaml:"proxy"`
		ReplicaProxies []string `yaml:"replica_proxies,omitempty,flow"`
	}
)

// Marshal returns f as a remote file that LoadFile reads back, with a header
// that says what it is; admin tokens are written inline.
func (f *File) Marshal() ([]byte, error) {
	out := fileYAML{
		Lab: f.Lab, Entry: f.Entry, Prometheus: f.Prometheus,
		Jaeger:    jaegerYAML{QueryGRPC: f.JaegerQueryGRPC, QueryHTTP: f.JaegerQueryURL},
		Toxiproxy: f.Toxiproxy, Services: map[string]serviceYAML{},
	}
	if f.KeyFile != "" {
		out.Auth = &authYAML{KeyFile: f.KeyFile}
	}
	for name, s := range f.Services {
		sy := serviceYAML{Addr: s.Addr, Metrics: s.Metrics, Ready: s.Ready, Admin: s.Admin, AdminToken: s.AdminToken}
		for _, i := range s.Instances {
			if sy.Instances == nil {
				sy.Instances = map[string]instanceYAML{}
			}
			sy.Instances[i.Name] = instanceYAML{Admin: i.Admin}
		}
		out.Services[name] = sy
	}
	if len(f.Proxies) > 0 {
		out.Edges = map[string]edgeYAML{}
		for edge, proxy := range f.Proxies {
			out.Edges[edge] = edgeYAML{Proxy: proxy, ReplicaProxies: f.ReplicaProxies[edge]}
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# The endpoints of a running instance of lab %s, for chaoslab -stack remote\n# (docs/remote.md). The remote stack reaches it through these URLs only: it\n# starts, stops and creates nothing.\n", f.Lab)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
