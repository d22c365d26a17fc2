-- Runs once, on the first start of an empty postgres data volume
-- (mounted into /docker-entrypoint-initdb.d/ by docker-compose.yml).
--
-- One PostgreSQL server, one database per service, each owned by its own login role:
-- a service can reach only its own data, so the services share no tables and talk only
-- through RabbitMQ events and HTTP APIs. The passwords are development-only defaults and
-- must match the *_DATABASE_URL values in docker-compose.yml.

CREATE ROLE scheduling LOGIN PASSWORD 'scheduling';
CREATE DATABASE scheduling OWNER scheduling;
REVOKE ALL ON DATABASE scheduling FROM PUBLIC;

CREATE ROLE billing LOGIN PASSWORD 'billing';
CREATE DATABASE billing OWNER billing;
REVOKE ALL ON DATABASE billing FROM PUBLIC;

CREATE ROLE notifications LOGIN PASSWORD 'notifications';
CREATE DATABASE notifications OWNER notifications;
REVOKE ALL ON DATABASE notifications FROM PUBLIC;
