package compose

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// runner runs the docker and docker-compose commands of one project.
type runner struct {
	dir     string   // where docker-compose.yml is
	files   []string // compose files, -f each
	project string   // -p
	env     []string // added to the commands' environment
	environ func() []string
}

// compose runs docker-compose with the project's files and args and returns
// its standard output; a failure carries its standard error.
func (r runner) compose(ctx context.Context, args ...string) (string, error) {
	full := []string{"-p", r.project}
	for _, f := range r.files {
		full = append(full, "-f", f)
	}
	return r.run(ctx, "docker-compose", append(full, args...)...)
}

// docker runs the docker CLI.
func (r runner) docker(ctx context.Context, args ...string) (string, error) {
	return r.run(ctx, "docker", args...)
}

func (r runner) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = r.dir
	cmd.Env = append(r.environ(), r.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLines(msg, 8))
	}
	return stdout.String(), nil
}

// lastLines keeps the end of a long error output.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
