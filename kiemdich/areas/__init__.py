"""Administrative units: loading them, searching them, and the cascading picker."""
