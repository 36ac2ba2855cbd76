-- +goose Up
-- Administrative actions and key operations, append-only.
CREATE TABLE audit_events (
    id          text PRIMARY KEY,
    actor       text NOT NULL,
    action      text NOT NULL,
    object_id   text NOT NULL DEFAULT '',
    merchant_id text,
    request_id  text NOT NULL DEFAULT '',
    source_ip   text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL
);
CREATE INDEX audit_events_object ON audit_events (object_id, id DESC);

-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
