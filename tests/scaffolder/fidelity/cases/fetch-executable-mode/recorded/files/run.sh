#!/bin/sh
echo my-svc
