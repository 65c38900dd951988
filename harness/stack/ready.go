package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Probe asks url once and returns nil when it answers 200 OK: how every
// component of a lab tells that it is ready.
func Probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// WaitReady probes url every 20ms until it answers 200 OK. It gives up
// after timeout (the error names the URL and its last answer), when ctx
// ends, or as soon as gone — nil: never asked — returns an error (say, the
// process behind the URL exited), which it returns as is.
func WaitReady(ctx context.Context, url string, timeout time.Duration, gone func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	var last error // the last answer, for the error
	for {
		if gone != nil {
			if err := gone(); err != nil {
				return err
			}
		}
		err := Probe(ctx, client, url)
		if err == nil {
			return nil
		}
		// A probe cut short by the timeout says nothing about the URL: keep
		// the answer before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("not ready after %s (%s did not answer 200: %v)", timeout, url, last)
			}
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
