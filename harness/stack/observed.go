package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// TargetsQuerier is the one call of the Prometheus HTTP API WaitScraped
// needs (GET /api/v1/targets). promv1.NewAPI(client) implements it, and so
// does NewTargetsQuerier.
type TargetsQuerier interface {
	Targets(ctx context.Context) (promv1.TargetsResult, error)
}

// NewTargetsQuerier is the Prometheus at prometheusURL (e.g.
// Endpoints.PrometheusURL) as a TargetsQuerier.
func NewTargetsQuerier(prometheusURL string) (TargetsQuerier, error) {
	c, err := promapi.NewClient(promapi.Config{Address: prometheusURL})
	if err != nil {
		return nil, err
	}
	return promv1.NewAPI(c), nil
}

// ScrapePoll is how often WaitScraped asks Prometheus for its targets: a
// tenth of the lab's 1 s scrape interval.
const ScrapePoll = 100 * time.Millisecond

// commitGrace is how long WaitScraped waits, once it has seen every scrape,
// so that those scrapes' samples are committed and a query sees them: the
// targets API reports a scrape a few hundred microseconds before that.
const commitGrace = 20 * time.Millisecond

// WaitScraped waits until Prometheus has scraped each job of jobs (job name
// → the time its service became ready) since that time: every active target
// whose job label is that job has health "up" and a last scrape that began
// after the ready time. A scrape that began before is of the process that ran
// before (or of nothing) and does not count.
//
// It returns, by job, how long after its ready time that scrape began (the
// largest over the job's targets). It gives up after timeout, naming each job
// still waited for with its targets' health and last error, or when ctx ends.
// A job Prometheus has no active target of (not discovered yet, or not in its
// configuration) is waited for too; the timeout's error says so. When it
// returns nil, an instant query of up{job="<job>"} answers 1.
func WaitScraped(ctx context.Context, q TargetsQuerier, jobs map[string]time.Time, timeout time.Duration) (map[string]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	got := make(map[string]time.Duration, len(jobs))
	var (
		last     promv1.TargetsResult // the last answer, for the error
		lastErr  error                // the last call's error, if it failed
		answered bool
	)
	for {
		res, err := q.Targets(ctx)
		switch {
		case err == nil:
			last, lastErr, answered = res, nil, true
			for job, since := range jobs {
				if _, done := got[job]; done {
					continue
				}
				if d, ok := scrapedSince(res.Active, job, since); ok {
					got[job] = d
				}
			}
			if len(got) == len(jobs) {
				// Prometheus sets a target's health and last scrape just
				// before it commits that scrape's samples (up among them).
				select {
				case <-time.After(commitGrace):
				case <-ctx.Done():
				}
				return got, nil
			}
		case ctx.Err() == nil || !answered && lastErr == nil:
			// A call cut short by the timeout says nothing about Prometheus:
			// keep the answer before it, if any.
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return got, ctx.Err()
			}
			return got, notScrapedError(jobs, got, last, lastErr, timeout)
		case <-time.After(ScrapePoll):
		}
	}
}

// scrapedSince says whether every active target of job was scraped up after
// since, and how long after since the latest of those scrapes began.
func scrapedSince(active []promv1.ActiveTarget, job string, since time.Time) (time.Duration, bool) {
	var (
		n   int
		max time.Duration
	)
	for _, t := range active {
		if targetJob(t) != job {
			continue
		}
		n++
		if t.Health != promv1.HealthGood || !t.LastScrape.After(since) {
			return 0, false
		}
		max = maxDuration(max, t.LastScrape.Sub(since))
	}
	return max, n > 0
}

func targetJob(t promv1.ActiveTarget) string {
	if j := string(t.Labels["job"]); j != "" {
		return j
	}
	return t.ScrapePool
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// notScrapedError names every job not scraped yet and what Prometheus last
// said about its targets.
func notScrapedError(jobs map[string]time.Time, got map[string]time.Duration, last promv1.TargetsResult, lastErr error, timeout time.Duration) error {
	var parts []string
	for _, job := range slices.Sorted(maps.Keys(jobs)) {
		if _, done := got[job]; done {
			continue
		}
		since := jobs[job]
		var targets []string
		for _, t := range last.Active {
			if targetJob(t) != job {
				continue
			}
			s := fmt.Sprintf("target %s health %s", t.ScrapeURL, t.Health)
			switch {
			case t.LastScrape.IsZero():
				s += ", never scraped"
			case !t.LastScrape.After(since):
				s += fmt.Sprintf(", last scraped %s before it was ready", since.Sub(t.LastScrape).Round(time.Millisecond))
			default:
				s += fmt.Sprintf(", last scraped %s after it was ready", t.LastScrape.Sub(since).Round(time.Millisecond))
			}
			if t.LastError != "" {
				s += ", last error: " + t.LastError
			}
			targets = append(targets, s)
		}
		if len(targets) == 0 {
			targets = append(targets, "no active target (Prometheus has not discovered it, or its configuration has no such job)")
		}
		parts = append(parts, fmt.Sprintf("job %s: %s", job, strings.Join(targets, "; ")))
	}
	msg := fmt.Sprintf("Prometheus has not scraped every job up since it was ready (waited %s): %s", timeout, strings.Join(parts, " | "))
	if lastErr != nil {
		msg += fmt.Sprintf(" (its last answer to /api/v1/targets: %v)", lastErr)
	}
	return errors.New(msg)
}

// ObservedReport is the progress lines of a lab that WaitScraped saw
// observed: for each job (in services' order, then any other job by name)
// when it was ready since start and how much later Prometheus first scraped
// it, then the whole lab's two times.
func ObservedReport(start time.Time, services []string, readyAt map[string]time.Time, after map[string]time.Duration) string {
	order := slices.DeleteFunc(slices.Clone(services), func(s string) bool { _, ok := readyAt[s]; return !ok })
	for _, job := range slices.Sorted(maps.Keys(readyAt)) {
		if !slices.Contains(order, job) {
			order = append(order, job)
		}
	}
	var b strings.Builder
	var ready, observed time.Duration
	for _, job := range order {
		r := readyAt[job].Sub(start)
		ready = maxDuration(ready, r)
		d, ok := after[job]
		if !ok {
			fmt.Fprintf(&b, "  %-11s ready at %.2fs, not scraped yet\n", job, r.Seconds())
			continue
		}
		observed = maxDuration(observed, r+d)
		fmt.Fprintf(&b, "  %-11s ready at %.2fs, first scraped %.1fs later\n", job, r.Seconds(), d.Seconds())
	}
	fmt.Fprintf(&b, "  lab ready in %.1fs, observed by Prometheus in %.1fs", ready.Seconds(), observed.Seconds())
	return b.String()
}
