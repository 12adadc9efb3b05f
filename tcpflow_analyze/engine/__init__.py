"""The engine: the packet loop (``loop``), the connection table (``table``),
each endpoint's RFC 9293 state machine (``endpoint``) and Zeek's (``zeek``),
history letters (``history``), end-of-capture timers (``timers``), bounded
memory (``folding``), the observer hook (``observer``), and connections
packed for another process (``wire``)."""
