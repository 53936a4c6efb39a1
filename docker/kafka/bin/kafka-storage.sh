#!/bin/sh
exec /opt/kafka/bin/kafka-class kafka.tools.StorageTool "$@"
