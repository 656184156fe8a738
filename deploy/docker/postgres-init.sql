-- The DuckLake's catalog lives in its own database beside Dagster's.
create database lake owner rotation;
