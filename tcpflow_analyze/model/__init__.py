"""The data model: TCP states, connections and endpoints, and how they are written."""
