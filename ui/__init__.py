"""Streamlit glue shared by pages: session keys, cached resources, widgets."""
