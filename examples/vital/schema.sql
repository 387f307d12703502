-- The VITAL database before the migration: built for one tenant, no tenant_id anywhere.
-- The apps expect business_functions, departments, organizational_roles and tools.category;
-- the database has suite_functions, org_departments, organizational_levels and
-- tools.category_id.

CREATE TABLE suite_functions (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text
);

CREATE TABLE org_departments (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    function_id integer REFERENCES suite_functions (id)
);

CREATE TABLE organizational_levels (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    rank        integer NOT NULL
);

CREATE TABLE tool_categories (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text
);

CREATE TABLE tools (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    description text,
    category_id integer REFERENCES tool_categories (id),
    endpoint    text,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL,
    description       text,
    business_function text NOT NULL,
    department_id     integer REFERENCES org_departments (id),
    parent_agent_id   uuid REFERENCES agents (id),
    model             text NOT NULL DEFAULT 'gpt-4o',
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_business_function_idx ON agents (business_function);

CREATE TABLE agent_tools (
    agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tool_id  uuid NOT NULL REFERENCES tools (id),
    PRIMARY KEY (agent_id, tool_id)
);

CREATE TABLE prompts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id    uuid REFERENCES agents (id) ON DELETE CASCADE,
    title       text NOT NULL,
    body        text NOT NULL,
    category    text NOT NULL
);

CREATE TABLE knowledge (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text NOT NULL,
    source      text NOT NULL CHECK (source IN ('ICH', 'ISO', 'FDA', 'EMA', 'internal')),
    reference   text,
    summary     text,
    published   date
);

CREATE TABLE personas (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL,
    level_id       integer REFERENCES organizational_levels (id),
    department_id  integer REFERENCES org_departments (id),
    description    text
);

CREATE TABLE jobs_to_be_done (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    persona_id  bigint NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    statement   text NOT NULL,
    priority    integer NOT NULL DEFAULT 3
);

CREATE TABLE chat_sessions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id    uuid REFERENCES agents (id),
    persona_id  bigint REFERENCES personas (id),
    title       text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat_messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_session_idx ON chat_messages (session_id, created_at);
