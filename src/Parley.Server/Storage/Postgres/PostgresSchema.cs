namespace Parley.Server.Storage.Postgres;

/// <summary>Parley's own tables in the shared PostgreSQL database (the same shapes as the SQLite file's).</summary>
internal static class PostgresSchema
{
    /// <summary>Version 2: agents, callback outbox, live instances with the node that hosts them, nodes, instance registry slots.</summary>
    public const string V2 = """
        CREATE TABLE parley_agents (
            app_id     bigint NOT NULL,
            agent_id   text   NOT NULL,
            name       text   NOT NULL,
            llm        text   NOT NULL,
            tts        text   NOT NULL,
            asr        text   NOT NULL,
            created_at bigint NOT NULL,
            updated_at bigint NOT NULL,
            PRIMARY KEY (app_id, agent_id));

        CREATE SEQUENCE parley_callback_sequence;
        CREATE TABLE parley_callback_outbox (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            sequence          bigint NOT NULL UNIQUE,
            app_id            bigint NOT NULL,
            event             text   NOT NULL,
            agent_instance_id text   NOT NULL,
            agent_user_id     text   NOT NULL,
            room_id           text   NOT NULL,
            data              text   NOT NULL,
            state             integer NOT NULL DEFAULT 0,
            attempts          integer NOT NULL DEFAULT 0,
            created_at        bigint NOT NULL,
            next_attempt_at   bigint NOT NULL,
            last_attempt_at   bigint NULL,
            completed_at      bigint NULL,
            last_error        text   NULL,
            retry_from        bigint NOT NULL,
            agent_id          text   NOT NULL DEFAULT '',
            agent_name        text   NOT NULL DEFAULT '',
            host_tag          text   NOT NULL DEFAULT '');
        CREATE INDEX ix_parley_callback_outbox_app_due ON parley_callback_outbox (state, app_id, next_attempt_at);

        CREATE TABLE parley_nodes (
            node_id      text   PRIMARY KEY,
            address      text   NOT NULL DEFAULT '',
            started_at   bigint NOT NULL,
            heartbeat_at bigint NOT NULL);

        CREATE TABLE parley_live_instances (
            app_id            bigint NOT NULL,
            agent_instance_id text   NOT NULL,
            agent_user_id     text   NOT NULL,
            room_id           text   NOT NULL,
            node_id           text   NOT NULL,
            created_at        bigint NOT NULL,
            PRIMARY KEY (app_id, agent_instance_id));

        CREATE TABLE parley_instance_slots (
            app_id          bigint NOT NULL,
            instance_id     text   NOT NULL,
            agent_user_id   text   NOT NULL,
            agent_stream_id text   NOT NULL,
            reserved_at     bigint NOT NULL,
            PRIMARY KEY (app_id, instance_id));
        """;

    /// <summary>
    /// Version 3: Orleans cluster membership (<see cref="PostgresMembershipTable"/>). One version row per cluster, locked
    /// by every membership write; one row per silo incarnation (address, port, generation), with its own row etag.
    /// </summary>
    public const string V3 = """
        CREATE TABLE parley_cluster_version (
            cluster_id text    PRIMARY KEY,
            version    integer NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now());

        CREATE TABLE parley_cluster_members (
            cluster_id      text        NOT NULL REFERENCES parley_cluster_version (cluster_id) ON DELETE CASCADE,
            address         text        NOT NULL,
            port            integer     NOT NULL,
            generation      integer     NOT NULL,
            silo_name       text        NOT NULL,
            host_name       text        NOT NULL,
            role_name       text        NOT NULL DEFAULT '',
            status          integer     NOT NULL,
            proxy_port      integer     NOT NULL,
            update_zone     integer     NOT NULL DEFAULT 0,
            fault_zone      integer     NOT NULL DEFAULT 0,
            suspect_times   text        NOT NULL DEFAULT '',
            start_time      timestamptz NOT NULL,
            i_am_alive_time timestamptz NOT NULL,
            etag            text        NOT NULL,
            PRIMARY KEY (cluster_id, address, port, generation));
        """;

    /// <summary>
    /// Version 4: the load every node publishes for the placement of new instances (<see cref="PostgresNodeLoads"/>):
    /// its silo address, process CPU (cores) and drain flag; live instances indexed by node for the session counts.
    /// </summary>
    public const string V4 = """
        ALTER TABLE parley_nodes ADD COLUMN silo text NOT NULL DEFAULT '';
        ALTER TABLE parley_nodes ADD COLUMN cpu_cores double precision NOT NULL DEFAULT 0;
        ALTER TABLE parley_nodes ADD COLUMN draining boolean NOT NULL DEFAULT false;
        CREATE INDEX ix_parley_live_instances_node ON parley_live_instances (node_id);
        """;
}
