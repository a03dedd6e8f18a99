package hookd

import (
	"context"
	"time"
)

// Application is a tenant: one of the sending platform's customers. Its endpoints,
// messages and attempts are invisible to every other application.
type Application struct {
	ID   string
	UID  string // optional, unique among applications; usable in place of ID
	Name string
	// RateLimit is the maximum messages per second to this application's endpoints
	// (0: unlimited).
	RateLimit int
	Metadata  map[string]string
	// RetrySchedule overrides the server's retry schedule for this application's
	// messages ("" inherits). See ParseRetrySchedule.
	RetrySchedule string
	// RequireHTTPS refuses http:// endpoint URLs for this application: at create and
	// update, and at delivery time for endpoints written before it was set.
	RequireHTTPS bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// OperationalAppUID is the UID of the application hookd keeps for itself: it carries
// the operational webhooks (endpoint.disabled, message.attempt.exhausted, …) to the
// operator's --operational-webhook-url. The API leaves it out of the application list
// and refuses to delete it; it stays readable by its UID.
const OperationalAppUID = "hookd-operational"

// AppStore persists applications.
type AppStore interface {
	// CreateApp inserts app. A UID already used by another application is ECONFLICT.
	CreateApp(ctx context.Context, app *Application) error
	// App returns the application whose ID or UID is idOrUID, or ENOTFOUND.
	App(ctx context.Context, idOrUID string) (*Application, error)
	// UpdateApp replaces every mutable field of the application app.ID.
	UpdateApp(ctx context.Context, app *Application) error
	// DeleteApp deletes the application and everything that belongs to it.
	DeleteApp(ctx context.Context, id string) error
	// Apps lists applications by ID.
	Apps(ctx context.Context, page Page) ([]*Application, error)
}
