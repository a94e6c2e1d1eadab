"""The playground channel: a local web page that stands in for WeCom.

The page is a channel like the others: what is typed there becomes an `Incoming` handed to
the pipeline (`routes`), and what the outbox worker delivers to it is pushed to every open
page over a WebSocket (`hub`). `markdown` renders the bot's text as WeCom shows it.
"""
