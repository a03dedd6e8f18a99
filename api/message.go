package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

// messageIn is the body of POST /app/{app_id}/msg.
type messageIn struct {
	EventType   *string         `json:"eventType"`
	EventID     *string         `json:"eventId"`
	Payload     json.RawMessage `json:"payload"`
	Channels    []string        `json:"channels"`
	Tags        []string        `json:"tags"`
	Application *applicationIn  `json:"application"`
	// DeliverAt schedules the first attempt of every delivery for later.
	DeliverAt *time.Time `json:"deliverAt"`
	// OrderingKey (a hookd extension) keeps order per key on FIFO endpoints.
	OrderingKey *string `json:"orderingKey"`
	// PayloadRetentionPeriod (days) or PayloadRetentionHours override the server's
	// --retention for this message.
	PayloadRetentionPeriod *int64          `json:"payloadRetentionPeriod"`
	PayloadRetentionHours  *int64          `json:"payloadRetentionHours"`
	TransformationsParams  json.RawMessage `json:"transformationsParams"`
}

type messageOut struct {
	ID        string          `json:"id"`
	EventType string          `json:"eventType"`
	EventID   string          `json:"eventId,omitempty"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels,omitempty"`
	Tags      []string        `json:"tags,omitempty"`
	Timestamp time.Time       `json:"timestamp"`
	// DeliverAt is in the answer to the create that scheduled the message; it is not
	// stored apart from the deliveries' next attempt times.
	DeliverAt *time.Time `json:"deliverAt,omitempty"`
	// OrderingKey is the message's ordering key (a hookd extension); null for none.
	OrderingKey *string `json:"orderingKey"`
}

var emptyObject = json.RawMessage(`{}`)

func msgOut(withContent bool) func(*hookd.Message) messageOut {
	return func(m *hookd.Message) messageOut {
		out := messageOut{ID: m.ID, EventType: m.EventType, EventID: m.EventID, Payload: m.Payload,
			Channels: m.Channels, Tags: m.Tags, Timestamp: m.Timestamp.UTC()}
		if m.OrderingKey != "" {
			out.OrderingKey = &m.OrderingKey
		}
		if !withContent || len(out.Payload) == 0 {
			out.Payload = emptyObject
		}
		return out
	}
}

func (s *Server) checkMessage(in *messageIn) error {
	if in.EventType == nil {
		return invalid("eventType", "eventType is required")
	}
	if err := hookd.CheckName("eventType", *in.EventType, 256); err != nil {
		return err
	}
	if in.EventID != nil {
		if err := hookd.CheckName("eventId", *in.EventID, 256); err != nil {
			return err
		}
	}
	if in.Payload == nil {
		return invalid("payload", "payload is required")
	}
	if int64(len(in.Payload)) > s.cfg.MaxPayloadBytes {
		return hookd.Errorf(hookd.ETOOLARGE, "payload is %d bytes, more than the %d-byte limit", len(in.Payload), s.cfg.MaxPayloadBytes)
	}
	if in.Payload[0] != '{' {
		return invalidType("payload", "payload must be a JSON object")
	}
	if len(in.Channels) > 10 {
		return invalid("channels", "a message may be sent on at most 10 channels")
	}
	if err := hookd.CheckNames("channels", in.Channels, 128); err != nil {
		return err
	}
	if len(in.Tags) > 5 {
		return invalid("tags", "a message may have at most 5 tags")
	}
	if err := hookd.CheckNames("tags", in.Tags, 128); err != nil {
		return err
	}
	if in.OrderingKey != nil {
		if err := hookd.CheckOrderingKey("orderingKey", *in.OrderingKey); err != nil {
			return err
		}
	}
	_, err := s.payloadRetention(in)
	return err
}

// Bounds of a message's own payload retention, as the Svix API has them.
const (
	maxRetentionDays  = 90
	maxRetentionHours = 2160
)

// payloadRetention returns how long the message's payload is kept: its own
// payloadRetentionPeriod or payloadRetentionHours, else the server's retention.
func (s *Server) payloadRetention(in *messageIn) (time.Duration, error) {
	switch {
	case in.PayloadRetentionPeriod != nil && in.PayloadRetentionHours != nil:
		return 0, invalid("payloadRetentionHours", "payloadRetentionPeriod and payloadRetentionHours are mutually exclusive")
	case in.PayloadRetentionPeriod != nil:
		d := *in.PayloadRetentionPeriod
		if d < 1 || d > maxRetentionDays {
			return 0, invalid("payloadRetentionPeriod", fmt.Sprintf("payloadRetentionPeriod must be from 1 to %d days", maxRetentionDays))
		}
		return time.Duration(d) * 24 * time.Hour, nil
	case in.PayloadRetentionHours != nil:
		h := *in.PayloadRetentionHours
		if h < 1 || h > maxRetentionHours {
			return 0, invalid("payloadRetentionHours", fmt.Sprintf("payloadRetentionHours must be from 1 to %d hours", maxRetentionHours))
		}
		return time.Duration(h) * time.Hour, nil
	}
	return s.cfg.Retention, nil
}

// Bounds of deliverAt: a time a little in the past (a client's clock may be behind)
// means now; later than maxDeliverAhead is refused. Svix asks for one minute to 24
// hours ahead; hookd accepts all of that and more.
const (
	deliverAtSkew   = 5 * time.Minute
	maxDeliverAhead = 30 * 24 * time.Hour
)

// deliverAt returns when the message's deliveries are first due: now, or the
// message's deliverAt if that is later.
func deliverAt(in *messageIn, now time.Time) (time.Time, error) {
	if in.DeliverAt == nil {
		return now, nil
	}
	at := in.DeliverAt.UTC().Truncate(time.Microsecond)
	switch {
	case at.Before(now.Add(-deliverAtSkew)):
		return now, invalid("deliverAt", "deliverAt must not be in the past")
	case at.After(now.Add(maxDeliverAhead)):
		return now, invalid("deliverAt", "deliverAt must be at most 30 days ahead")
	case at.Before(now):
		return now, nil
	}
	return at, nil
}

// createMessage accepts a message: it stores the message together with one delivery per
// matching endpoint in one transaction, and answers only after that commit.
func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) error {
	var in messageIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := s.checkMessage(&in); err != nil {
		return err
	}
	if err := s.checkPayloadSchema(r.Context(), *in.EventType, in.Payload); err != nil {
		return err
	}
	withContent, err := queryBool(r, "with_content", true)
	if err != nil {
		return err
	}
	a, eps, err := s.fanoutTargets(r, in.Application)
	if err != nil {
		return err
	}
	now := s.now()
	due, err := deliverAt(&in, now)
	if err != nil {
		return err
	}
	msg := &hookd.Message{
		ID: s.cfg.IDs.New(hookd.PrefixMessage), AppID: a.ID, EventType: *in.EventType,
		Payload: compactPayload(in.Payload), Channels: in.Channels, Tags: in.Tags, Timestamp: now,
	}
	if in.EventID != nil {
		msg.EventID = *in.EventID
	}
	if in.OrderingKey != nil {
		msg.OrderingKey = *in.OrderingKey
	}
	if keep, _ := s.payloadRetention(&in); keep > 0 {
		msg.PayloadExpiresAt = now.Add(keep)
	}
	out := msgOut(withContent)(msg)
	if due.After(now) {
		out.DeliverAt = &due
	}
	if key := idempotencyKey(r.Context()); key != "" {
		// The answer is stored under the key with the message, in its transaction.
		rec := &recorder{header: http.Header{}}
		writeJSON(rec, http.StatusAccepted, out)
		msg.Idempotency = &hookd.IdempotentResponse{Key: key, StatusCode: rec.status,
			ContentType: rec.header.Get("Content-Type"), Body: rec.body.Bytes(), CreatedAt: now}
	}
	if _, err := s.accept.Accept(r.Context(), msg, eps, due); err != nil {
		return err
	}
	if msg.Idempotency != nil {
		replay(w, msg.Idempotency)
		return nil
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

// compactPayload removes insignificant whitespace from a payload that is valid JSON
// (decode checked it), returning p itself when there is none. It is json.Compact
// without the syntax checks, which cost as much as decoding the payload again.
func compactPayload(p json.RawMessage) json.RawMessage {
	var out []byte
	inString, escaped := false, false
	for i, c := range p {
		switch {
		case inString:
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if out == nil {
				out = make([]byte, i, len(p))
				copy(out, p[:i])
			}
			continue
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return p
	}
	return out
}

// messageApp loads the path's application; if it does not exist and the message
// carries an "application", it is created first, as Svix does.
func (s *Server) messageApp(r *http.Request, in *applicationIn) (*hookd.Application, error) {
	a, err := s.app(r)
	if err == nil || !hookd.IsNotFound(err) || in == nil {
		return a, err
	}
	if in.UID == nil {
		uid := r.PathValue("app_id")
		in.UID = &uid
	}
	now := s.now()
	a = &hookd.Application{ID: s.cfg.IDs.New(hookd.PrefixApp), CreatedAt: now, UpdatedAt: now}
	if err := in.apply(a); err != nil {
		return nil, prefixField(err, "application")
	}
	if err := s.store.CreateApp(r.Context(), a); err != nil {
		if hookd.IsConflict(err) {
			return s.store.App(r.Context(), a.UID)
		}
		return nil, err
	}
	return a, nil
}

// prefixField moves a body validation error under a nested object.
func prefixField(err error, parent string) error {
	e, ok := err.(*hookd.Error)
	if !ok || e.Code != hookd.EINVALID {
		return err
	}
	return invalid(parent+"."+e.Field, e.Message)
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	withContent, err := queryBool(r, "with_content", true)
	if err != nil {
		return err
	}
	filter := hookd.MessageFilter{Channel: r.URL.Query().Get("channel"), Tag: r.URL.Query().Get("tag")}
	if filter.EventTypes, err = queryList(r, "event_types"); err != nil {
		return err
	}
	if filter.Before, err = queryTime(r, "before"); err != nil {
		return err
	}
	if filter.After, err = queryTime(r, "after"); err != nil {
		return err
	}
	a, err := s.app(r)
	if err != nil {
		return err
	}
	out, err := boundedPage(p, func(m *hookd.Message) string { return m.ID }, messageBytes,
		func(q hookd.Page) ([]*hookd.Message, error) { return s.store.Messages(r.Context(), a.ID, filter, q) },
		msgOut(withContent))
	if err != nil {
		return err
	}
	writeList(w, out)
	return nil
}

// message loads the application and message named by the path.
func (s *Server) message(r *http.Request) (*hookd.Application, *hookd.Message, error) {
	a, err := s.app(r)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.store.Message(r.Context(), a.ID, r.PathValue("msg_id"))
	if err != nil {
		return nil, nil, err
	}
	return a, m, nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) error {
	withContent, err := queryBool(r, "with_content", true)
	if err != nil {
		return err
	}
	_, m, err := s.message(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, msgOut(withContent)(m))
	return nil
}

func (s *Server) expungeMessageContent(w http.ResponseWriter, r *http.Request) error {
	a, m, err := s.message(r)
	if err != nil {
		return err
	}
	if err := s.store.ExpungeMessageContent(r.Context(), a.ID, m.ID); err != nil {
		return err
	}
	s.expunged()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resend makes hookd deliver a message to an endpoint again, now.
func (s *Server) resend(w http.ResponseWriter, r *http.Request) error {
	a, m, err := s.message(r)
	if err != nil {
		return err
	}
	e, err := s.store.Endpoint(r.Context(), a.ID, r.PathValue("endpoint_id"))
	if err != nil {
		return err
	}
	if err := s.store.ResendDelivery(r.Context(), s.cfg.IDs.New(hookd.PrefixDelivery), a.ID, m.ID, e.ID, s.now()); err != nil {
		return fmt.Errorf("resend: %w", err)
	}
	// The contract's EmptyResponse: the SDKs parse the body, and fail on an empty one.
	writeJSON(w, http.StatusAccepted, struct{}{})
	return nil
}
