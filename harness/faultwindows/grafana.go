package faultwindows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chaoslab/chaoslab/faults"
)

// Grafana is the Sink that writes a region annotation per fault through
// Grafana's HTTP API: POST /api/annotations when the fault opens, PATCH
// /api/annotations/<id> with its end when it closes. The annotations are
// organisation-wide, tagged "chaoslab", "scenario:<name>", "kind:<kind>" and
// "target:<target>"; the dashboards show them with a tag filter.
type Grafana struct {
	base  string
	token string
	http  *http.Client
	warn  func(error)

	mu  sync.Mutex
	ids map[string]int64 // annotation id by fault id
}

// Tag marks every annotation chaoslab writes.
const Tag = "chaoslab"

// NewGrafana returns a sink writing to the Grafana at baseURL (e.g.
// http://127.0.0.1:3000) with a service-account token (empty: none, as
// with anonymous admin in the compose stack). warn receives the errors
// (annotations never fail a run); hc nil means a client with a 5s timeout.
func NewGrafana(baseURL, token string, hc *http.Client, warn func(error)) *Grafana {
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	if warn == nil {
		warn = func(error) {}
	}
	return &Grafana{base: strings.TrimRight(baseURL, "/"), token: token, http: hc, warn: warn, ids: map[string]int64{}}
}

// annotation is the body of Grafana's annotation API.
type annotation struct {
	Time    int64    `json:"time,omitempty"`
	TimeEnd int64    `json:"timeEnd,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	Text    string   `json:"text,omitempty"`
}

// Opened creates the annotation, open-ended until Closed.
func (g *Grafana) Opened(ctx context.Context, a faults.Applied) {
	at := a.AppliedAt.UnixMilli()
	body := annotation{
		Time: at, TimeEnd: at,
		Tags: []string{Tag, "scenario:" + a.Scenario, "kind:" + a.Spec.Kind(), "target:" + a.Spec.Target()},
		Text: fmt.Sprintf("%s (%s, phase %s)", a.Spec, a.Scenario, a.Phase),
	}
	var resp struct {
		ID int64 `json:"id"`
	}
	if err := g.do(ctx, http.MethodPost, "/api/annotations", body, &resp); err != nil {
		g.warn(fmt.Errorf("grafana annotation for %s: %w", a.Spec, err))
		return
	}
	g.mu.Lock()
	g.ids[a.ID] = resp.ID
	g.mu.Unlock()
}

// Closed sets the annotation's end.
func (g *Grafana) Closed(ctx context.Context, a faults.Applied, at time.Time) {
	g.mu.Lock()
	id, ok := g.ids[a.ID]
	delete(g.ids, a.ID)
	g.mu.Unlock()
	if !ok {
		return
	}
	path := fmt.Sprintf("/api/annotations/%d", id)
	if err := g.do(ctx, http.MethodPatch, path, annotation{TimeEnd: at.UnixMilli()}, nil); err != nil {
		g.warn(fmt.Errorf("grafana annotation end for %s: %w", a.Spec, err))
	}
}

func (g *Grafana) do(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}
