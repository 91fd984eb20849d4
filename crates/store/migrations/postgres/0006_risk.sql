-- Reserved for the risk-management tables (issue 8); kept in step on both backends.
SELECT 1;
