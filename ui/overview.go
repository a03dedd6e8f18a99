package ui

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// overview is the dashboard's first page.
type overview struct {
	// PerMinute is the mean attempts per minute over the last five whole minutes.
	PerMinute float64
	// Hour and Day total the last hour's and day's attempts.
	Hour, Day totals
	Queue     hookd.QueueCounts
	Troubled  []*hookd.Endpoint
	// MoreTroubled says the list of troubled endpoints goes on.
	MoreTroubled bool
	Nodes        int
	HourChart    chart
	DayChart     chart
}

// totals counts attempts by outcome.
type totals struct{ Success, Fail int64 }

// Rate is the share of successful attempts, 0 without any.
func (t totals) Rate() float64 {
	if t.Success+t.Fail == 0 {
		return 0
	}
	return float64(t.Success) / float64(t.Success+t.Fail)
}

// Any reports whether there were attempts.
func (t totals) Any() bool { return t.Success+t.Fail > 0 }

// chart is a bar chart of attempts, drawn as inline SVG by the template: success
// stacked under failure, one bar per bucket.
type chart struct {
	Width, Height int
	Bars          []bar
	Max           int64
	From, To      string
}

// bar is one bucket's two rectangles, in SVG user units.
type bar struct {
	X, W             float64
	SuccessY, SuccH  float64
	FailY, FailH     float64
	Title            string
	Success, Failure int64
}

const chartWidth, chartHeight = 720, 140

// newChart buckets counts (per minute, oldest first) into n bars of size each, the
// last ending at end.
func newChart(counts []hookd.AttemptCount, end time.Time, n int, size time.Duration, layout string) chart {
	start := end.Add(-time.Duration(n) * size)
	buckets := make([]totals, n)
	for _, c := range counts {
		if c.Minute.Before(start) || !c.Minute.Before(end) {
			continue
		}
		i := int(c.Minute.Sub(start) / size)
		buckets[i].Success += c.Success
		buckets[i].Fail += c.Fail
	}
	ch := chart{Width: chartWidth, Height: chartHeight,
		From: start.Format(layout), To: end.Format(layout) + " UTC"}
	for _, b := range buckets {
		ch.Max = max(ch.Max, b.Success+b.Fail)
	}
	w := float64(chartWidth) / float64(n)
	for i, b := range buckets {
		at := start.Add(time.Duration(i) * size)
		br := bar{X: float64(i) * w, W: max(w-1, 1), Success: b.Success, Failure: b.Fail,
			Title: fmt.Sprintf("%s: %d succeeded, %d failed", at.Format(layout), b.Success, b.Fail)}
		if ch.Max > 0 {
			scale := float64(chartHeight) / float64(ch.Max)
			br.SuccH = float64(b.Success) * scale
			br.FailH = float64(b.Fail) * scale
		}
		br.SuccessY = chartHeight - br.SuccH
		br.FailY = br.SuccessY - br.FailH
		ch.Bars = append(ch.Bars, br)
	}
	return ch
}

// troubledShown is how many troubled endpoints the overview lists.
const troubledShown = 20

// loadOverview reads the overview: a day of per-minute counters (at most 1,440 rows),
// two counts from partial indexes and a page of troubled endpoints.
func (h *Handler) loadOverview(r *http.Request) (*overview, error) {
	ctx := r.Context()
	now := h.now()
	end := now.Truncate(time.Minute).Add(time.Minute) // the current minute included
	counts, err := h.cfg.Store.AttemptCounts(ctx, end.Add(-24*time.Hour), end)
	if err != nil {
		return nil, err
	}
	o := &overview{}
	for _, c := range counts {
		o.Day.Success += c.Success
		o.Day.Fail += c.Fail
		if !c.Minute.Before(end.Add(-time.Hour)) {
			o.Hour.Success += c.Success
			o.Hour.Fail += c.Fail
		}
		// The five whole minutes before the current one.
		if !c.Minute.Before(end.Add(-6*time.Minute)) && c.Minute.Before(end.Add(-time.Minute)) {
			o.PerMinute += float64(c.Success+c.Fail) / 5
		}
	}
	o.HourChart = newChart(counts, end, 60, time.Minute, "15:04")
	o.DayChart = newChart(counts, end, 96, 15*time.Minute, "Jan 2 15:04")
	if o.Queue, err = h.cfg.Store.QueueCounts(ctx); err != nil {
		return nil, err
	}
	eps, err := h.cfg.Store.TroubledEndpoints(ctx, hookd.Page{Limit: troubledShown + 1})
	if err != nil {
		return nil, err
	}
	if len(eps) > troubledShown {
		eps, o.MoreTroubled = eps[:troubledShown], true
	}
	o.Troubled = eps
	if h.cfg.LiveNodesFunc != nil {
		o.Nodes = h.cfg.LiveNodesFunc()
	}
	return o, nil
}

func (h *Handler) overviewPage(w http.ResponseWriter, r *http.Request, s *session) error {
	o, err := h.loadOverview(r)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "overview", adminView(s, "overview", "Overview", o))
	return nil
}
