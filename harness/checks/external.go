package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// maxAnswer bounds what is read of a checker's answer.
const maxAnswer = 4 << 20

// waitDelay is how long a killed command's output may still be read: a
// child that keeps its standard output open does not hold the run.
const waitDelay = time.Second

// runCommand runs argv (harness templates of field) with input as JSON on
// its standard input (nil: none), bounded by timeout (0: by ctx alone), and
// returns its standard output, and its standard error's end quoted for a
// detail ("; stderr: …", or empty). A command that cannot start, exits
// non-zero or times out is an error that quotes its standard error.
func (s *Set) runCommand(ctx context.Context, field string, argv []string, input any, timeout time.Duration) ([]byte, string, error) {
	if len(argv) == 0 {
		return nil, "", fmt.Errorf("%s.command is empty", field)
	}
	rendered := make([]string, len(argv))
	for i, a := range argv {
		r, err := lab.Render(fmt.Sprintf("%s.command[%d]", field, i), a, s.vars)
		if err != nil {
			return nil, "", err
		}
		rendered[i] = r
	}
	prog := rendered[0]
	if !filepath.IsAbs(prog) && strings.ContainsRune(prog, filepath.Separator) {
		// Relative to the lab's root, like its other paths; absolute, since
		// the command runs in that root.
		abs, err := filepath.Abs(s.lab.Path(prog))
		if err != nil {
			return nil, "", err
		}
		prog = abs
	}
	name := "command " + argv[0]
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, prog, rendered[1:]...)
	cmd.Dir = s.lab.Dir()
	cmd.WaitDelay = waitDelay
	if input != nil {
		body, err := json.Marshal(input)
		if err != nil {
			return nil, "", fmt.Errorf("%s: encoding its input: %w", name, err)
		}
		cmd.Stdin = bytes.NewReader(body)
	}
	stdout := &limitedBuffer{max: maxAnswer}
	stderr := &tailBuffer{max: maxSnippet}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), stderr.quote(), nil
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0:
		return nil, "", fmt.Errorf("%s did not finish within its timeout of %s: killed%s", name, timeout, stderr.quote())
	case ctx.Err() != nil:
		return nil, "", fmt.Errorf("%s interrupted: %w%s", name, ctx.Err(), stderr.quote())
	case errors.As(err, &exitErr):
		return nil, "", fmt.Errorf("%s exited with status %d%s", name, exitErr.ExitCode(), stderr.quote())
	}
	return nil, "", fmt.Errorf("%s: %w%s", name, err, stderr.quote())
}

// post POSTs input as JSON to the URL template of field, bounded by
// timeout, and returns the body of a 200 answer.
func (s *Set) post(ctx context.Context, field, urlTemplate string, input any, timeout time.Duration) ([]byte, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("http: encoding the run: %w", err)
	}
	return s.call(ctx, http.MethodPost, field+".http", urlTemplate, body, timeout)
}

// get GETs the URL template of field, bounded by timeout, and returns the
// body of a 200 answer.
func (s *Set) get(ctx context.Context, field, urlTemplate string, timeout time.Duration) ([]byte, error) {
	return s.call(ctx, http.MethodGet, field+".http", urlTemplate, nil, timeout)
}

// call makes one request to the rendered URL template and returns the body
// of a 200 answer; any other status is an error quoting the body.
func (s *Set) call(ctx context.Context, method, field, urlTemplate string, body []byte, timeout time.Duration) ([]byte, error) {
	url, err := lab.Render(field, urlTemplate, s.vars)
	if err != nil {
		return nil, err
	}
	name := "http " + url
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
			return nil, fmt.Errorf("%s did not answer within its timeout of %s", name, timeout)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
			return nil, fmt.Errorf("%s did not finish its answer within its timeout of %s", name, timeout)
		}
		return nil, fmt.Errorf("%s: reading the answer: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s, not 200 OK: %s", name, resp.Status, snippet(answer))
	}
	return answer, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it: a command's standard
// error, whose end says why it failed.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

// quote is "; stderr: …" with the standard error on one line, or nothing
// when there was none.
func (b *tailBuffer) quote() string {
	s := strings.Join(strings.Fields(string(b.buf)), " ")
	if s == "" {
		return ""
	}
	return "; stderr: " + s
}
