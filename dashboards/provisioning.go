package dashboards

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/diag"
)

// Where the compose stack mounts this folder into the Grafana container.
const (
	// ProvisioningMount is where ./dashboards/provisioning is mounted.
	ProvisioningMount = "/etc/grafana/provisioning"
	// JSONMount is where ./dashboards/json is mounted; the dashboard
	// provider reads it.
	JSONMount = "/var/lib/grafana/dashboards"
)

// Datasource is one datasource of a provisioning file
// (provisioning/datasources/*.yml).
type Datasource struct {
	Name      string `yaml:"name"`
	UID       string `yaml:"uid"`
	Type      string `yaml:"type"`
	URL       string `yaml:"url"`
	IsDefault bool   `yaml:"isDefault"`
}

// Provider is one dashboard provider of a provisioning file
// (provisioning/dashboards/*.yml).
type Provider struct {
	Name    string `yaml:"name"`
	Type    string `yaml:"type"`
	Folder  string `yaml:"folder"`
	Options struct {
		Path string `yaml:"path"`
	} `yaml:"options"`
}

// LoadDatasources reads a datasource provisioning file.
func LoadDatasources(path string) ([]Datasource, error) {
	var f struct {
		APIVersion  int          `yaml:"apiVersion"`
		Datasources []Datasource `yaml:"datasources"`
	}
	if err := loadYAML(path, &f); err != nil {
		return nil, err
	}
	if f.APIVersion != 1 {
		return nil, &diag.ValidationError{Problems: []diag.Problem{{File: path, Field: "apiVersion", Msg: fmt.Sprintf("is %d, Grafana reads 1", f.APIVersion)}}}
	}
	return f.Datasources, nil
}

// LoadProviders reads a dashboard provider provisioning file.
func LoadProviders(path string) ([]Provider, error) {
	var f struct {
		APIVersion int        `yaml:"apiVersion"`
		Providers  []Provider `yaml:"providers"`
	}
	if err := loadYAML(path, &f); err != nil {
		return nil, err
	}
	if f.APIVersion != 1 {
		return nil, &diag.ValidationError{Problems: []diag.Problem{{File: path, Field: "apiVersion", Msg: fmt.Sprintf("is %d, Grafana reads 1", f.APIVersion)}}}
	}
	return f.Providers, nil
}

func loadYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading provisioning file: %w", err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return &diag.ValidationError{Problems: []diag.Problem{diag.YAMLSyntax(path, err)}}
	}
	return nil
}
