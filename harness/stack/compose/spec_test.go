package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// loadProject loads a generated docker-compose.yml with the Compose
// Specification's reference loader (compose-go, what `docker compose` v2
// reads files with): schema validation, interpolation of env, the load
// profile on.
func loadProject(t *testing.T, dir string, data []byte, env map[string]string) *types.Project {
	t.Helper()
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  abs,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(abs, ComposeFile), Content: data}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("chaoslab-test", true)
		o.Profiles = []string{"load"}
	})
	require.NoError(t, err, "compose-go rejects the generated file")
	return p
}

// published are a service's ports as "host_ip:published:target".
func publishedPorts(s types.ServiceConfig) []string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, fmt.Sprintf("%s:%s:%d", p.HostIP, p.Published, p.Target))
	}
	return out
}

// The generated file is a valid Compose project for the Compose
// Specification too, and it says what the lab says: each service's image
// (with the tag and key the compose stack sets substituted), environment,
// ports on 127.0.0.1, data volume and dependencies.
func TestTheGeneratedFileIsAValidComposeProject(t *testing.T) {
	shop := loadShop(t)
	notes, err := lab.Load(filepath.Join("testdata", "lab.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		lab     *lab.Lab
		opt     FileOptions
		volumes []string
	}{
		{name: "shop", lab: shop, opt: FileOptions{Dir: repoRoot, Dashboards: filepath.Join(repoRoot, "dashboards"), LoadScript: "baseline.js"},
			volumes: []string{"registry-data", "inventory-data", "orders-data", "payments-data", "issuer-data", "nats-data", "shipping-data"}},
		{name: "notes elsewhere", lab: notes, opt: FileOptions{Dir: t.TempDir(), Dashboards: filepath.Join(repoRoot, "dashboards"), LoadScript: "smoke.js"},
			volumes: []string{"store-data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Files(tt.lab, tt.opt)
			require.NoError(t, err)
			if tt.opt.Dir != repoRoot { // the shop's are committed there
				for _, f := range files {
					path := filepath.Join(tt.opt.Dir, filepath.FromSlash(f.Path))
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, f.Data, 0o644))
				}
			}
			env := map[string]string{ImageTagVar: "t1", JWTKeyVar: "secret", "TOXIPROXY_IMAGE": "chaoslab/toxiproxy:local"}
			p := loadProject(t, tt.opt.Dir, files[0].Data, env)

			var want []string
			for _, s := range tt.lab.Services {
				want = append(want, s.Instances()...)
			}
			want = append(want, "toxiproxy", "prometheus", "jaeger", "grafana", "k6")
			assert.ElementsMatch(t, want, p.ServiceNames())
			assert.ElementsMatch(t, tt.volumes, keys(p.Volumes))
			assert.Equal(t, "chaoslab/toxiproxy:local", p.Services["toxiproxy"].Image, "the offline stand-in replaces the pinned image")

			placement := tt.lab.ComposePlacement("", "t1", tt.lab.Load.Auth.AuthVars("", "secret"))
			for _, s := range tt.lab.Services {
				for r, instance := range s.Instances() {
					got, ok := p.Services[instance]
					require.True(t, ok, instance)
					c, err := tt.lab.RenderCompose(s.Name, r, placement)
					require.NoError(t, err)
					assert.Equal(t, c.Image, got.Image, instance)
					env := map[string]string{}
					for _, e := range c.Env {
						env[e.Name] = e.Value
					}
					gotEnv := map[string]string{}
					for k, v := range got.Environment {
						require.NotNil(t, v, "%s: %s has a value", instance, k)
						gotEnv[k] = *v
					}
					assert.Equal(t, env, gotEnv, instance)

					var ports []string
					for _, port := range s.Ports {
						n := port.Number + r*tt.lab.ReplicaPortStep
						ports = append(ports, fmt.Sprintf("127.0.0.1:%d:%d", n, n))
					}
					assert.Equal(t, ports, publishedPorts(got), instance)

					deps := []string{"jaeger"}
					for _, e := range tt.lab.Calls(s.Name) {
						to, _ := tt.lab.Service(e.To)
						deps = append(append(deps, "toxiproxy"), to.Instances()...)
					}
					slices.Sort(deps)
					assert.Equal(t, slices.Compact(deps), slices.Sorted(func(yield func(string) bool) {
						for d := range got.DependsOn {
							if !yield(d) {
								return
							}
						}
					}), instance)

					var vols []string
					for _, v := range got.Volumes {
						vols = append(vols, v.Type+" "+v.Source+" "+v.Target)
					}
					if slices.Contains(tt.volumes, s.Name+"-data") {
						assert.Equal(t, []string{"volume " + s.Name + "-data /data"}, vols, "%s: its service's volume", instance)
					} else {
						assert.Empty(t, vols, instance)
					}
				}
			}

			// The bind mounts resolve to the generated files and the lab's
			// and chaoslab's directories.
			for _, svc := range []string{"toxiproxy", "prometheus", "jaeger", "k6", "grafana"} {
				for _, v := range p.Services[svc].Volumes {
					assert.Equal(t, "bind", v.Type, "%s %s", svc, v.Source)
					assert.True(t, v.ReadOnly, "%s %s", svc, v.Source)
					rel, err := filepath.Rel(p.WorkingDir, v.Source)
					require.NoError(t, err)
					if strings.HasPrefix(filepath.ToSlash(rel), "compose/") {
						assert.Contains(t, []string{PrometheusFile, ToxiproxyFile, JaegerFile}, filepath.ToSlash(rel), svc)
						assert.FileExists(t, v.Source, svc)
					} else {
						assert.DirExists(t, v.Source, svc)
					}
				}
			}
		})
	}
}
