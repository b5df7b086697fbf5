"""Value in business terms (issue 14): savings per month, money, net value and their history."""
