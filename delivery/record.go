package delivery

import (
	"context"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// decide turns a response into the delivery's next state.
func (d *Dispatcher) decide(dl *hookd.Delivery, info *endpointInfo, r response) item {
	att := &hookd.Attempt{
		ID:                 d.cfg.IDs.New(hookd.PrefixAttempt),
		AppID:              dl.AppID,
		MsgID:              dl.MsgID,
		EndpointID:         dl.EndpointID,
		URL:                info.ep.URL,
		ResponseStatusCode: r.code,
		Response:           r.body,
		Duration:           r.duration,
		Trigger:            dl.Trigger,
		Error:              hookd.StorableText(r.err),
		Timestamp:          r.start,
		Headers:            r.headers,
	}
	res := &hookd.AttemptResult{Delivery: dl, Attempt: att, Attempts: dl.Attempts + 1}
	it := item{res: res, info: info, prev: dl.Attempts, gone: r.err == "" && r.code == http.StatusGone}
	now := d.cfg.Now()
	res.NextAttempt = now
	if r.err == "" && r.code >= 200 && r.code <= 299 {
		att.Status, res.Status = hookd.StatusSuccess, hookd.StatusSuccess
		return it
	}
	att.Status, res.Status = hookd.StatusFail, hookd.StatusFail
	if dl.Trigger == hookd.TriggerManual || it.gone || r.abort {
		return it
	}
	delay, ok := d.schedule(dl, info).Delay(res.Attempts, d.rand)
	if !ok {
		return it
	}
	if r.retryAfter > 0 {
		delay = r.retryAfter
	}
	res.Status, res.NextAttempt = hookd.StatusPending, now.Add(delay)
	return it
}

// schedule resolves the retry schedule of dl: its endpoint's, else its event type's,
// else its application's, else the server's.
func (d *Dispatcher) schedule(dl *hookd.Delivery, info *endpointInfo) hookd.RetrySchedule {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := d.cfg.Now()
	var appS, typeS string
	epS := info.ep.RetrySchedule
	if app, err := d.apps.get(dl.AppID, now, func() (*hookd.Application, error) {
		return d.store.App(ctx, dl.AppID)
	}); err == nil {
		appS = app.RetrySchedule
	}
	if dl.Message != nil {
		name := dl.Message.EventType
		if et, err := d.eventTypes.get(name, now, func() (*hookd.EventType, error) {
			return d.store.EventType(ctx, name)
		}); err == nil {
			typeS = et.RetrySchedule
		}
	}
	r, err := hookd.ResolveRetrySchedule(d.cfg.RetrySchedule, appS, typeS, epS)
	if err != nil {
		d.log.Warn("retry schedule override does not parse", "app", dl.AppID, "endpoint", dl.EndpointID, "err", err)
	}
	return r
}

// recordOne records one result. If the store refuses it, the result is recorded
// again without the text that came from the receiver, so that an answer the store
// cannot keep never makes the delivery be sent again and again: its state (success,
// retry, failure) is what must not be lost. What still fails (the store is down) is
// retried when the lease expires.
func (d *Dispatcher) recordOne(ctx context.Context, res *hookd.AttemptResult) error {
	err := d.store.RecordAttempts(ctx, []hookd.AttemptResult{*res})
	if err == nil || ctx.Err() != nil || res.Attempt == nil {
		return err
	}
	bare := *res.Attempt
	bare.Response, bare.Headers = "", nil
	bare.Error = hookd.StorableText("the attempt's response could not be stored: " + err.Error())
	plain := *res
	plain.Attempt = &bare
	if err2 := d.store.RecordAttempts(ctx, []hookd.AttemptResult{plain}); err2 != nil {
		return err2
	}
	*res = plain
	return nil
}

// recordLoop records what the lanes hand over, in batches, until d.results closes.
func (d *Dispatcher) recordLoop() {
	batch := make([]item, 0, d.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		it, ok := <-d.results
		if !ok {
			return
		}
		batch = append(batch, it)
		timer.Reset(d.cfg.FlushInterval)
		// An ordered delivery's key waits for its record (nextHeads): when few
		// deliveries are out, what is at hand is recorded with it at once, since
		// little more could join the batch; with many out the batch fills quickly.
		ordered := d.recordNow(it)
	fill:
		for len(batch) < d.cfg.BatchSize {
			if ordered {
				select {
				case it, ok := <-d.results:
					if !ok {
						break fill
					}
					batch = append(batch, it)
				default:
					break fill
				}
				continue
			}
			select {
			case it, ok := <-d.results:
				if !ok {
					break fill
				}
				batch = append(batch, it)
				ordered = d.recordNow(it)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		d.flush(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// flush records a batch of attempts, gives back the deliveries that were not
// attempted, and then acts on what the attempts say about their endpoints.
func (d *Dispatcher) flush(batch []item) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.fifoResults(ctx, batch)
	var results []hookd.AttemptResult
	var released []*hookd.Delivery
	backs := make(map[time.Time][]*hookd.Delivery)
	for _, it := range batch {
		if it.res != nil {
			results = append(results, *it.res)
			released = append(released, it.res.Delivery)
		} else {
			until := it.until.Truncate(100 * time.Millisecond)
			backs[until] = append(backs[until], it.back)
			released = append(released, it.back)
		}
	}
	recorded := make([]bool, len(results))
	if len(results) > 0 {
		if err := d.store.RecordAttempts(ctx, results); err == nil {
			for i := range recorded {
				recorded[i] = true
			}
		} else {
			// Record one by one so one bad result cannot sink the others. What still
			// fails is retried when its lease expires.
			d.log.Error("record attempts; retrying one by one", "count", len(results), "err", err)
			for i := range results {
				if err := d.recordOne(ctx, &results[i]); err != nil {
					d.log.Error("record attempt", "delivery", results[i].Delivery.ID, "err", err)
					continue
				}
				recorded[i] = true
			}
		}
	}
	for until, ds := range backs {
		d.postpone(ds, until)
	}
	d.release(released, true)
	d.nextHeads(ctx, fifoAdvanced(batch, recorded))

	i := 0
	for _, it := range batch {
		if it.res == nil {
			continue
		}
		if recorded[i] {
			if it.res.Status == hookd.StatusPending {
				d.dueAt(it.res.NextAttempt)
			}
			d.met.observe(it.res)
			d.after(ctx, it)
		}
		i++
	}
	d.checkHealth(ctx)
}
