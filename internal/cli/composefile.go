package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/stack/compose"
)

// composeFileUsage is the usage of chaoslab compose-file.
const composeFileUsage = `compose-file [-lab FILE] [-o DIR] [-check]

Writes the compose stack's files for the lab file: DIR/docker-compose.yml
(each service from its compose section, its ports published on 127.0.0.1 at
the lab's port plan, a data volume when it uses {{.DataDir}}, depends_on from
its edges; Toxiproxy, Prometheus, Jaeger, Grafana and k6 as pinned images),
DIR/compose/prometheus.yml (a scrape job per service with metrics),
DIR/compose/toxiproxy.json (a proxy per edge) and DIR/compose/jaeger.yaml.
The files are generated: change the lab file and run this again.

With -check, writes nothing and fails (exit 1) when a file in DIR differs
from what it would write (make compose-file-check, in CI).`

// runComposeFile generates the compose stack's files from the lab file, or
// checks that the committed ones are current.
func runComposeFile(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "compose-file", composeFileUsage)
	var labPath string
	registerLabFile(fs, &labPath)
	dir := fs.String("o", ".", "the compose project's directory: docker-compose.yml is written there, its config files under compose/")
	dashboards := fs.String("dashboards", "dashboards", "chaoslab's Grafana dashboards (provisioning/ and json/), mounted into Grafana")
	script := fs.String("load-script", "baseline.js", "the k6 script, in the lab's load.scripts, that the k6 service (profile load) runs; empty: no k6 service")
	check := fs.Bool("check", false, "write nothing; fail when the files in -o differ from what would be written")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments %q", fs.Args())
	}
	l, err := loadLabFile(labPath)
	if err != nil {
		return err
	}
	if *script != "" {
		if _, err := os.Stat(filepath.Join(l.Path(l.Load.Scripts), *script)); err != nil {
			return usageErr("-load-script: %v", err)
		}
	}
	files, err := compose.Files(l, compose.FileOptions{Dir: *dir, Dashboards: *dashboards, LoadScript: *script})
	if err != nil {
		return usageErr("the lab file %s cannot run on compose:\n%w", labPath, err)
	}
	if !*check {
		for _, f := range files {
			path := filepath.Join(*dir, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
			}
			if err := writeAtomic(path, f.Data); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "wrote %s\n", path)
		}
		return nil
	}
	stale := 0
	for _, f := range files {
		path := filepath.Join(*dir, filepath.FromSlash(f.Path))
		have, err := os.ReadFile(path)
		switch {
		case errors.Is(err, iofs.ErrNotExist):
			fmt.Fprintf(env.Stderr, "%s: missing\n", path)
			stale++
		case err != nil:
			return fmt.Errorf("reading the compose files: %w", err)
		case !bytes.Equal(have, f.Data):
			fmt.Fprintf(env.Stderr, "%s:%d: differs from what compose-file writes from %s\n", path, firstDiffLine(have, f.Data), labPath)
			stale++
		default:
			fmt.Fprintf(env.Stdout, "ok  %s\n", path)
		}
	}
	if stale > 0 {
		return &exitError{code: exitcode.CheckFailed, err: fmt.Errorf("%d compose files are out of date with %s: run `chaoslab compose-file` (make compose-file) and commit them", stale, labPath)}
	}
	return nil
}
