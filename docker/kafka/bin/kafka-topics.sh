#!/bin/sh
exec /opt/kafka/bin/kafka-class org.apache.kafka.tools.TopicCommand "$@"
