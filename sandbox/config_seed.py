"""A realistic configuration for the demo seed: stores, directory, queue, tracing, a few secrets.

Listeners, the TLS certificate and DKIM keys are seeded by ``sandbox.dkim``; nothing here
overwrites a key that is already set. The keys that the sandbox itself reads (fallback admin,
CORS, ``storage.directory``) are left alone.
"""

from __future__ import annotations

DEMO_SETTINGS: dict[str, str] = {
    # Server
    "server.max-connections": "8192",
    "server.proxy.trusted-networks.0": "127.0.0.0/8",
    "server.proxy.trusted-networks.1": "10.0.0.0/8",
    "server.socket.backlog": "1024",
    "server.http.url": "protocol + '://' + config_get('server.hostname') + ':' + local_port",
    "server.http.use-x-forwarded": "true",
    "server.allowed-ip.192.0.2.10": "",
    "server.blocked-ip.198.51.100.23": "",
    "server.auto-ban.auth.rate": "100/1d",
    "server.auto-ban.abuse.rate": "35/1d",
    "cluster.node-id": "1",
    # Stores
    "store.rocksdb.type": "rocksdb",
    "store.rocksdb.path": "/opt/stalwart/data",
    "store.rocksdb.compression": "lz4",
    "store.postgresql.type": "postgresql",
    "store.postgresql.host": "db.internal.example.org",
    "store.postgresql.port": "5432",
    "store.postgresql.database": "stalwart",
    "store.postgresql.user": "stalwart",
    "store.postgresql.password": "Pg-Sandbox-Secret-77",
    "store.postgresql.timeout": "15s",
    "store.postgresql.tls.enable": "true",
    "store.postgresql.pool.max-connections": "10",
    "store.s3.type": "s3",
    "store.s3.bucket": "stalwart-blobs",
    "store.s3.region": "eu-central-1",
    "store.s3.access-key": "AKIASANDBOXEXAMPLE01",
    "store.s3.secret-key": "s3-Sandbox-Secret/K7MDENG+bPxRfiCY",
    "store.s3.timeout": "30s",
    "store.redis.type": "redis",
    "store.redis.urls": "redis://redis.internal.example.org:6379",
    "store.redis.timeout": "10s",
    "storage.data": "rocksdb",
    "storage.fts": "rocksdb",
    "storage.blob": "s3",
    "storage.lookup": "redis",
    "storage.encryption.enable": "true",
    "storage.full-text.default-language": "en",
    # Directories
    "directory.internal.type": "internal",
    "directory.internal.store": "rocksdb",
    "directory.ldap.type": "ldap",
    "directory.ldap.url": "ldaps://ldap.example.org",
    "directory.ldap.base-dn": "dc=example,dc=org",
    "directory.ldap.bind.dn": "cn=stalwart,ou=services,dc=example,dc=org",
    "directory.ldap.bind.secret": "Ldap-Bind-Sandbox-9",
    "directory.ldap.timeout": "30s",
    # Authentication and OAuth
    "authentication.master.user": "master",
    "authentication.master.secret": "$6$masterSALT$S4ndboxMasterHashOnlyForDisplay",
    "oauth.key": "oauth-signing-key-3f9a0c1d7e5b4a2f",
    "oauth.expiry.user-code": "30m",
    "oauth.expiry.auth-code": "10m",
    "oauth.expiry.token": "1h",
    "oauth.expiry.refresh-token": "30d",
    # Queue and delivery
    "queue.schedule.retry.0": "2m",
    "queue.schedule.retry.1": "5m",
    "queue.schedule.retry.2": "10m",
    "queue.schedule.retry.3": "15m",
    "queue.schedule.retry.4": "30m",
    "queue.schedule.retry.5": "1h",
    "queue.schedule.retry.6": "2h",
    "queue.schedule.notify.0": "1d",
    "queue.schedule.notify.1": "3d",
    "queue.schedule.expire": "5d",
    "queue.outbound.hostname": "mail.example.org",
    "queue.outbound.next-hop.0000.if": "is_local_domain('', rcpt_domain)",
    "queue.outbound.next-hop.0000.then": "'local'",
    "queue.outbound.next-hop.0001.else": "false",
    "queue.outbound.tls.dane": "optional",
    "queue.outbound.tls.starttls": "require",
    "queue.outbound.timeout.connect": "3m",
    "queue.outbound.timeout.data": "10m",
    "queue.quota.size.messages": "100000",
    "queue.quota.size.size": "10737418240",
    "queue.quota.size.enable": "true",
    "queue.throttle.outbound.rcpt-domain.key": "rcpt_domain",
    "queue.throttle.outbound.rcpt-domain.concurrency": "5",
    "queue.throttle.outbound.rcpt-domain.enable": "true",
    # SMTP session
    "session.rcpt.relay.0000.if": "!is_empty(authenticated_as)",
    "session.rcpt.relay.0000.then": "true",
    "session.rcpt.relay.0001.else": "false",
    "session.data.limits.size": "52428800",
    "session.ehlo.reject-non-fqdn": "true",
    "session.mta-sts.mode": "testing",
    # Tracing, logs and metrics
    "tracer.log.type": "log",
    "tracer.log.level": "info",
    "tracer.log.path": "/opt/stalwart/logs",
    "tracer.log.prefix": "stalwart.log",
    "tracer.log.rotate": "daily",
    "tracer.log.ansi": "false",
    "tracer.log.enable": "true",
    "tracing.history.enable": "true",
    "tracing.history.store": "rocksdb",
    "tracing.history.retention": "30d",
    "metrics.history.enable": "true",
    "metrics.history.store": "rocksdb",
    "metrics.history.retention": "90d",
    "metrics.prometheus.enable": "true",
    "metrics.prometheus.auth.username": "prometheus",
    "metrics.prometheus.auth.secret": "Prom-Scrape-Sandbox-4",
    # Webhooks, spam filter, Sieve (one script carries markup, as scripts do)
    "webhook.events.url": "https://hooks.example.org/stalwart?token=sandbox",
    "webhook.events.timeout": "30s",
    "webhook.events.signature-key": "whsec_sandbox_5e1f2d3c4b",
    "webhook.events.events.0": "auth.failed",
    "webhook.events.events.1": "security.ip-blocked",
    "spam-filter.enable": "true",
    "spam-filter.header.status.name": "X-Spam-Status",
    "spam-filter.list.scores.BAYES_SPAM": "5.1",
    "spam-filter.list.scores.DMARC_POLICY_REJECT": "4.5",
    "sieve.trusted.scripts.greylist.contents": (
        'require ["variables", "vnd.stalwart.expressions"];\n'
        "# <b>Greylist</b> first-time senders </textarea><script>alert('sieve')</script>\n"
        'if eval "!key_exists(\'greylist\', envelope.from)" { reject "Try again later"; }'
    ),
    "enterprise.license-key": "SANDBOX-LICENCE-0123-4567-89AB-CDEF",
    "enterprise.logo-url": "https://www.example.org/logo.svg",
    # Left behind by an old version: reload reports it as unread.
    "legacy.imap.folders.drafts": "Drafts",
}


def seed(sb) -> None:
    if not sb.has_demo_data:
        return
    for key, value in DEMO_SETTINGS.items():
        sb.settings.setdefault(key, value)
