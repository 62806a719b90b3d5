"""What leaves the hotline by SMS, e-mail and webhook, and the doors it leaves by.

Everything goes through one durable outbox (:mod:`hotline.outbound.outbox`): *composers* turn
domain events into messages, written in the same transaction as the events that cause them
(:meth:`hotline.store.db.Store.write`), and the deliverer (:mod:`hotline.outbound.deliverer`)
sends what is due through one door per outside system: Kannel for SMS
(:mod:`hotline.outbound.kannel`), SMTP for e-mail (:mod:`hotline.outbound.smtp`), HTTP for
webhooks (:mod:`hotline.outbound.webhook`). The rest of the service speaks the domain.
"""
