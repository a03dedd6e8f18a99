package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd"
)

// OperationalAppUID is the UID of the application that carries operational webhooks.
// hookd creates it, with one endpoint for the configured URL, the first time it is
// needed; operational events are then ordinary messages of that application, so they
// are durable, signed, retried and logged like any other.
const OperationalAppUID = hookd.OperationalAppUID

// operationalEndpointUID is the UID of the operational application's endpoint.
const operationalEndpointUID = "operational-webhook"

// Operational event types the dispatcher emits.
const (
	EventEndpointDisabled        = "endpoint.disabled"
	EventMessageAttemptExhausted = "message.attempt.exhausted"
	EventMessageAttemptFailing   = "message.attempt.failing"
	EventMessageAttemptRecovered = "message.attempt.recovered"
	// EventEndpointCircuitOpened and EventEndpointCircuitClosed are hookd extensions:
	// an endpoint's circuit opened after consecutive failures, and closed again.
	EventEndpointCircuitOpened    = "endpoint.circuit.opened"
	EventEndpointCircuitClosed    = "endpoint.circuit.closed"
	healthCheckInterval           = time.Second
	operationalEndpointDescriptor = "Operational webhooks of this hookd server (managed by hookd)"
)

// opsTarget identifies the operational application.
type opsTarget struct {
	appID string
}

// opsTarget returns the operational target if it is known.
func (d *Dispatcher) opsTarget() *opsTarget {
	d.opsMu.Lock()
	defer d.opsMu.Unlock()
	return d.ops
}

// isOperational reports whether appID is the operational application, whose
// deliveries are never reported on by operational events (they would report on
// themselves).
func (d *Dispatcher) isOperational(ctx context.Context, appID string) bool {
	if ops := d.opsTarget(); ops != nil {
		return ops.appID == appID
	}
	return d.appUID(ctx, appID) == OperationalAppUID
}

// operational returns the operational target, creating the operational application
// and, with an OperationalWebhookURL, the endpoint for it (or setting it back to the
// configured URL and secret) on first use. Without the URL and before any operational
// endpoint was made through the API, it returns nil.
func (d *Dispatcher) operational(ctx context.Context) (*opsTarget, error) {
	d.opsMu.Lock()
	defer d.opsMu.Unlock()
	if d.ops != nil {
		return d.ops, nil
	}
	now := d.cfg.Now()
	if d.cfg.OperationalWebhookURL == "" {
		app, err := d.store.App(ctx, OperationalAppUID)
		if hookd.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("operational application: %w", err)
		}
		d.ops = &opsTarget{appID: app.ID}
		return d.ops, nil
	}
	app, err := hookd.OperationalApp(ctx, d.store, d.cfg.IDs, now)
	if err != nil {
		return nil, err
	}
	secrets := []hookd.Secret{{Key: d.cfg.OperationalWebhookSecret}}
	ep, err := d.store.Endpoint(ctx, app.ID, operationalEndpointUID)
	switch {
	case hookd.IsNotFound(err):
		ep = &hookd.Endpoint{
			ID: d.cfg.IDs.New(hookd.PrefixEndpoint), AppID: app.ID, UID: operationalEndpointUID,
			URL: d.cfg.OperationalWebhookURL, Description: operationalEndpointDescriptor,
			Secrets: secrets, CreatedAt: now, UpdatedAt: now,
		}
		if err = d.store.CreateEndpoint(ctx, ep); hookd.IsConflict(err) {
			ep, err = d.store.Endpoint(ctx, app.ID, operationalEndpointUID)
		}
	case err == nil:
		if ep.URL != d.cfg.OperationalWebhookURL || ep.Disabled || len(ep.Secrets) != 1 ||
			ep.Secrets[0].Key != d.cfg.OperationalWebhookSecret || ep.SignatureProfile != "" ||
			len(ep.FilterTypes) > 0 || len(ep.Channels) > 0 {
			ep.URL, ep.Disabled, ep.DisabledAt = d.cfg.OperationalWebhookURL, false, nil
			ep.Secrets, ep.SignatureProfile, ep.UpdatedAt = secrets, "", now
			ep.FilterTypes, ep.Channels = nil, nil
			err = d.store.UpdateEndpoint(ctx, ep)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("operational endpoint: %w", err)
	}
	d.ops = &opsTarget{appID: app.ID}
	return d.ops, nil
}

// Emit sends an operational webhook {"type": eventType, "data": data} to every
// operational endpoint that is enabled and takes the event type (its eventTypes
// filter). It returns once the event is stored; delivery follows like any message's.
// Without operational endpoints it stores nothing.
func (d *Dispatcher) Emit(ctx context.Context, eventType string, data any) error {
	ops, err := d.operational(ctx)
	if err != nil || ops == nil {
		return err
	}
	eps, err := d.store.AllEndpoints(ctx, ops.appID)
	if err != nil {
		return fmt.Errorf("operational endpoints: %w", err)
	}
	if !slices.ContainsFunc(eps, func(e *hookd.Endpoint) bool { return e.Matches(eventType, nil) }) {
		return nil
	}
	payload, err := json.Marshal(struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}{eventType, data})
	if err != nil {
		return fmt.Errorf("encode %s event: %w", eventType, err)
	}
	msg := &hookd.Message{
		ID: d.cfg.IDs.New(hookd.PrefixMessage), AppID: ops.appID, EventType: eventType,
		Payload: payload, Timestamp: d.cfg.Now(),
	}
	accept := hookd.Acceptor{Store: d.store, Handoff: d, IDs: d.cfg.IDs}
	if _, err := accept.Accept(ctx, msg, eps, msg.Timestamp); err != nil {
		return fmt.Errorf("store %s event: %w", eventType, err)
	}
	return nil
}

// attemptEventData is the data of the message.attempt.* operational events.
type attemptEventData struct {
	AppID       string      `json:"appId"`
	AppUID      string      `json:"appUid,omitempty"`
	EndpointID  string      `json:"endpointId"`
	MsgID       string      `json:"msgId"`
	MsgEventID  string      `json:"msgEventId,omitempty"`
	LastAttempt lastAttempt `json:"lastAttempt"`
	// FIFO is set on message.attempt.exhausted for an ordered delivery (a hookd
	// extension).
	FIFO *fifoEventData `json:"fifo,omitempty"`
}

type lastAttempt struct {
	ID                 string    `json:"id"`
	ResponseStatusCode int       `json:"responseStatusCode"`
	Timestamp          time.Time `json:"timestamp"`
}

// endpointDisabledData is the data of the endpoint.disabled operational event.
type endpointDisabledData struct {
	AppID       string    `json:"appId"`
	AppUID      string    `json:"appUid,omitempty"`
	EndpointID  string    `json:"endpointId"`
	EndpointUID string    `json:"endpointUid,omitempty"`
	FailSince   time.Time `json:"failSince"`
}

// after acts on one recorded attempt: operational events, and an endpoint that
// answered 410 Gone is disabled. Endpoints that failed are remembered for the health
// check.
func (d *Dispatcher) after(ctx context.Context, it item) {
	res := it.res
	dl := res.Delivery
	if it.info == nil {
		return // refused without a request: nothing new about the endpoint
	}
	if d.isOperational(ctx, dl.AppID) {
		return // never report on the operational webhooks themselves
	}
	if res.Attempt.Status != hookd.StatusSuccess {
		k := dl.AppID + "/" + dl.EndpointID
		h := d.health[k]
		h.appID, h.endpointID, h.due = dl.AppID, dl.EndpointID, true
		d.health[k] = h
	}
	if it.gone {
		d.disable(ctx, dl.AppID, dl.EndpointID, true)
	}
	if dl.Trigger != hookd.TriggerScheduled {
		return
	}
	var event string
	switch {
	case res.Status == hookd.StatusSuccess && it.prev >= d.cfg.FailingAfter:
		event = EventMessageAttemptRecovered
	case res.Status == hookd.StatusFail:
		event = EventMessageAttemptExhausted
	case res.Status == hookd.StatusPending && res.Attempts == d.cfg.FailingAfter:
		event = EventMessageAttemptFailing
	default:
		return
	}
	data := attemptEventData{
		AppID: dl.AppID, AppUID: d.appUID(ctx, dl.AppID), EndpointID: dl.EndpointID, MsgID: dl.MsgID,
		LastAttempt: lastAttempt{
			ID: res.Attempt.ID, ResponseStatusCode: res.Attempt.ResponseStatusCode,
			Timestamp: res.Attempt.Timestamp.UTC(),
		},
		FIFO: fifoEvent(res),
	}
	if dl.Message != nil {
		data.MsgEventID = dl.Message.EventID
	}
	if err := d.Emit(ctx, event, data); err != nil {
		d.log.Error("emit operational event", "type", event, "err", err)
	}
}

// appUID returns the UID of an application, or "".
func (d *Dispatcher) appUID(ctx context.Context, appID string) string {
	app, err := d.apps.get(appID, d.cfg.Now(), func() (*hookd.Application, error) {
		return d.store.App(ctx, appID)
	})
	if err != nil {
		return ""
	}
	return app.UID
}

// healthState tracks when an endpoint that failed was last checked for disabling.
type healthState struct {
	appID, endpointID string
	checked           time.Time
	due               bool // failed since the last check
}

// checkHealth disables the endpoints that recently failed and have been failing for
// DisableAfter. Each endpoint is read from the store at most once per
// healthCheckInterval, so a burst of failures reads it once.
func (d *Dispatcher) checkHealth(ctx context.Context) {
	now := d.cfg.Now()
	for k, h := range d.health {
		recent := !h.checked.IsZero() && now.Sub(h.checked) < healthCheckInterval && !now.Before(h.checked)
		switch {
		case h.due && !recent:
			h.due, h.checked = false, now
			d.health[k] = h
			d.disable(ctx, h.appID, h.endpointID, false)
		case !h.due && !recent:
			delete(d.health, k)
		}
	}
}

// disable disables an endpoint that answered 410 Gone (gone) or has been failing
// for DisableAfter, and emits endpoint.disabled.
func (d *Dispatcher) disable(ctx context.Context, appID, endpointID string, gone bool) {
	ep, err := d.store.Endpoint(ctx, appID, endpointID)
	if err != nil {
		if !hookd.IsNotFound(err) {
			d.log.Error("read endpoint for health check", "endpoint", endpointID, "err", err)
		}
		return
	}
	now := d.cfg.Now()
	if ep.Disabled {
		return
	}
	if !gone && (ep.FailingSince == nil || now.Sub(*ep.FailingSince) < d.cfg.DisableAfter) {
		return
	}
	failSince := now
	if ep.FailingSince != nil {
		failSince = *ep.FailingSince
	}
	disabled, err := d.store.DisableEndpoint(ctx, appID, endpointID, now)
	if err != nil {
		if !hookd.IsNotFound(err) {
			d.log.Error("disable endpoint", "endpoint", endpointID, "err", err)
		}
		return
	}
	if !disabled {
		return // disabled meanwhile, by a user or another node: it has been announced
	}
	d.ForgetEndpoint(appID, endpointID)
	reason := "failing since " + failSince.UTC().Format(time.RFC3339)
	if gone {
		reason = "answered 410 Gone"
	}
	d.log.Warn("endpoint disabled", "app", appID, "endpoint", endpointID, "reason", reason)
	if d.isOperational(ctx, appID) {
		return
	}
	err = d.Emit(ctx, EventEndpointDisabled, endpointDisabledData{
		AppID: appID, AppUID: d.appUID(ctx, appID), EndpointID: endpointID,
		EndpointUID: ep.UID, FailSince: failSince.UTC(),
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		d.log.Error("emit operational event", "type", EventEndpointDisabled, "err", err)
	}
}
